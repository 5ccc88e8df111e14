/**
 * Listing under index/item skew: the keys-only `by_created` index may name an
 * item that is not (yet, or any more) in the table, or name one twice; the
 * page skips the first and lists the second once. A fake document client
 * plays the store, so the skew is exact rather than a race.
 */
import { describe, expect, it } from "vitest";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { newWatch } from "../../lib/app/register";
import { labelsFrom } from "../../lib/domain/labels";
import { toItem } from "../../lib/store/item-codec";
import { DynamoWatchRepository } from "../../lib/store/watch-repository";

const codec = { dueShards: 4, retentionDays: 30 };
const watch = (id: string, at: number, status: "registered" | "processing" = "registered") => ({
  ...newWatch("acme", { project_id: "p", instance_id: "i", task_id: id, region: "eu-de", targets: [], labels: labelsFrom([]), timeout_s: 3600 }, new Date(at)),
  status,
});

function fakeDb(indexKeys: Array<{ pk: string; sk: string; created_key: string }>, table: Map<string, Record<string, unknown>>) {
  const sent: string[] = [];
  const db = {
    send: async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = cmd.constructor.name;
      sent.push(name);
      if (name === "QueryCommand") {
        expect(cmd.input.Select).not.toBe("ALL_ATTRIBUTES");
        const start = cmd.input.ExclusiveStartKey as { sk: string } | undefined;
        const from = start ? indexKeys.findIndex((k) => k.created_key === (start as unknown as { created_key: string }).created_key) + 1 : 0;
        const limit = cmd.input.Limit as number;
        const page = indexKeys.slice(from, from + limit);
        const more = from + limit < indexKeys.length;
        return { Items: page, ...(more ? { LastEvaluatedKey: page[page.length - 1] } : {}) };
      }
      if (name === "BatchGetCommand") {
        const req = cmd.input.RequestItems as Record<string, { Keys: Array<{ sk: string }>; ConsistentRead: boolean }>;
        const [t, { Keys, ConsistentRead }] = Object.entries(req)[0]!;
        expect(ConsistentRead).toBe(true);
        return { Responses: { [t]: Keys.flatMap((k) => (table.has(k.sk) ? [table.get(k.sk)!] : [])) } };
      }
      throw new Error(`unexpected ${name}`);
    },
  };
  return { db: db as unknown as DynamoDBDocumentClient, sent };
}

describe("GET /tasks listing under index/item skew", () => {
  const ws = [watch("a", 1_000), watch("b", 2_000, "processing"), watch("c", 3_000), watch("d", 4_000)];
  const items = ws.map((w) => toItem(w, codec));
  const keyOf = (it: Record<string, unknown>) => ({ pk: String(it.pk), sk: String(it.sk), created_key: String(it.created_key) });
  // Newest first; "c" is indexed but its item is gone; "b" is indexed twice
  // (a stale entry with an older created_key, as a half-applied rewrite leaves).
  const stale = { ...keyOf(items[1]!), created_key: "1970-01-01T00:00:01.500Z#b" };
  const index = [keyOf(items[3]!), keyOf(items[2]!), keyOf(items[1]!), stale, keyOf(items[0]!)];
  const table = new Map(items.filter((_, i) => i !== 2).map((it) => [String(it.sk), it]));
  const repo = (db: DynamoDBDocumentClient) => {
    const r = new DynamoWatchRepository(db, { ...codec, tableName: "t", cursorKey: Buffer.alloc(32) });
    // A listing's page; fails the test when the listing is refused.
    return {
      async list(tenant: string, q: Parameters<DynamoWatchRepository["list"]>[1]) {
        const out = await r.list(tenant, q);
        if (!out.ok) throw new Error(`listing refused: ${out.reason}`);
        return out.page;
      },
    };
  };

  it("skips an index entry without its item and lists each watch once, newest first", async () => {
    const { db, sent } = fakeDb(index, table);
    const page = await repo(db).list("acme", { limit: 100 });
    expect(page.items.map((w) => w.task_id)).toEqual(["d", "b", "a"]);
    expect(page.nextCursor).toBeNull();
    expect(sent).toContain("BatchGetCommand");
  });

  it("pages through the skew: every present watch exactly once across pages", async () => {
    const { db } = fakeDb(index, table);
    const r = repo(db);
    const listed: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await r.list("acme", { limit: 1, ...(cursor ? { cursor } : {}) });
      listed.push(...page.items.map((w) => w.task_id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(listed.sort()).toEqual(["a", "b", "d"]);
  });

  it("filters by status on the fetched items (the index holds keys only)", async () => {
    const { db } = fakeDb(index, table);
    const page = await repo(db).list("acme", { status: "processing", limit: 10 });
    expect(page.items.map((w) => w.task_id)).toEqual(["b"]);
  });
});
