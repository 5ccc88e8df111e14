/**
 * The table as deployed, on dynalite: the tenant listing runs on the
 * `by_created` GSI (no LSI: it would cap a tenant at 10 GB), and `DUE_SHARDS`
 * can be lowered or raised with the watches already stored, none stranded.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, type DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepStrayShards } from "../../lib/app/due-shards";
import type { Logger } from "../../lib/app/ports";
import { newWatch } from "../../lib/app/register";
import type { Watch } from "../../lib/domain/watch";
import { localDynamoClient, startDynalite } from "../../infra/dev/local/dynalite-server";
import { migrateLocalTable } from "../../infra/dev/local/migrate-table";
import definition from "../../infra/table.json";
import { ensureTable } from "../../infra/table";
import { shardOf } from "../../lib/store/item-codec";
import { DynamoWatchRepository } from "../../lib/store/watch-repository";

let dynamo: Awaited<ReturnType<typeof startDynalite>>;
let client: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let tables = 0;
const quiet: Logger = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  dynamo = await startDynalite();
  client = localDynamoClient(dynamo.endpoint);
  doc = DynamoDBDocumentClient.from(client);
});
afterAll(async () => {
  client?.destroy();
  await dynamo?.close();
});

async function freshTable(): Promise<string> {
  const name = `watches-${++tables}`;
  await ensureTable(client, name);
  return name;
}

const repo = (tableName: string, dueShards: number) =>
  new DynamoWatchRepository(doc, { tableName, dueShards, retentionDays: 30, cursorKey: Buffer.alloc(32, 7) });

const watch = (tenant: string, taskId: string, at: number): Watch => ({
  ...newWatch(tenant, { project_id: "p", instance_id: "i", task_id: taskId, region: "eu-de", targets: [], labels: {}, timeout_s: 600 }, new Date(at)),
  status: "processing",
});

/** Every due entry a poller with `repo`'s shard count reads, by task id. */
async function readable(r: DynamoWatchRepository): Promise<string[]> {
  const keys = await Promise.all(r.dueShards().map((s) => r.dueKeys(s, { upTo: Number.MAX_SAFE_INTEGER })));
  return keys.flat().map((k) => k.taskId).sort();
}

describe("the tenant listing on the by_created GSI", () => {
  it("the table has two GSIs and no LSI", async () => {
    const t = (await client.send(new DescribeTableCommand({ TableName: await freshTable() }))).Table!;
    expect(t.LocalSecondaryIndexes).toBeUndefined();
    expect(t.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.KeySchema?.map((k) => k.AttributeName), i.Projection?.ProjectionType])).toEqual(
      expect.arrayContaining([
        ["due", ["due_shard", "due_at"], "INCLUDE"],
        ["by_created", ["pk", "created_key"], "KEYS_ONLY"],
      ]),
    );
  });

  it("lists a tenant's watches newest first, whole, page by page, filtered by status, and no other tenant's", async () => {
    const r = repo(await freshTable(), 4);
    const t0 = Date.parse("2026-12-01T10:00:00Z");
    for (let i = 0; i < 7; i++) await r.create(watch("acme", `t-${i}`, t0 + i * 1000));
    await r.create(watch("other", "t-x", t0 + 99_000));
    // One finished: the filter must see the stored status.
    const w3 = (await r.get("acme", "t-3"))!;
    await r.save({ ...w3, status: "succeed", finished_at: new Date(t0 + 50_000).toISOString() });

    const first = await page(r, "acme", { limit: 3 });
    expect(first.items.map((w) => w.task_id)).toEqual(["t-6", "t-5", "t-4"]);
    // Whole items, read from the table (the index holds keys only).
    expect(first.items[0]).toMatchObject({ tenant: "acme", project_id: "p", status: "processing" });
    const second = await page(r, "acme", { limit: 3, cursor: first.nextCursor! });
    expect(second.items.map((w) => w.task_id)).toEqual(["t-3", "t-2", "t-1"]);
    expect(second.items[0]!.status).toBe("succeed");
    const third = await page(r, "acme", { limit: 3, cursor: second.nextCursor! });
    expect(third.items.map((w) => w.task_id)).toEqual(["t-0"]);
    expect(third.nextCursor).toBeNull();

    expect((await page(r, "acme", { limit: 10, status: "succeed" })).items.map((w) => w.task_id)).toEqual(["t-3"]);
    expect((await page(r, "acme", { limit: 10, status: "processing" })).items).toHaveLength(6);
    expect((await page(r, "other", { limit: 10 })).items.map((w) => w.task_id)).toEqual(["t-x"]);
    // A cursor of one tenant is refused to another.
    expect(await r.list("other", { limit: 3, cursor: first.nextCursor! })).toEqual({ ok: false, reason: "invalid_cursor" });
  });
});

/** A listing's page; fails the test when the listing is refused. */
async function page(r: { list: DynamoWatchRepository["list"] }, tenant: string, q: Parameters<DynamoWatchRepository["list"]>[1]) {
  const out = await r.list(tenant, q);
  if (!out.ok) throw new Error(`listing refused: ${out.reason}`);
  return out.page;
}

describe("a local table from before the GSI (npm start on an old DATA_DIR)", () => {
  /** The table as it was created before: `by_created` a local index. */
  async function oldTable(): Promise<string> {
    const name = `old-${++tables}`;
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: definition.AttributeDefinitions as never,
        KeySchema: definition.KeySchema as never,
        LocalSecondaryIndexes: [
          { IndexName: "by_created", KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "created_key", KeyType: "RANGE" }], Projection: { ProjectionType: "KEYS_ONLY" } },
        ],
        GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes.filter((i) => i.IndexName === "due") as never,
      }),
    );
    return name;
  }

  it("is rebuilt with the GSI, every watch kept and listed", async () => {
    const name = await oldTable();
    const r = repo(name, 4);
    const t0 = Date.parse("2026-12-01T10:00:00Z");
    for (let i = 0; i < 5; i++) await r.create(watch("acme", `m-${i}`, t0 + i));
    const dir = mkdtempSync(join(tmpdir(), "migrate-"));
    try {
      expect(await migrateLocalTable(client, name, { journalPath: join(dir, "journal") })).toEqual({ action: "rebuilt", items: 5 });
      const t = (await client.send(new DescribeTableCommand({ TableName: name }))).Table!;
      expect(t.LocalSecondaryIndexes).toBeUndefined();
      expect(t.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(["by_created", "due"]);
      expect((await page(r, "acme", { limit: 10 })).items.map((w) => w.task_id)).toEqual(["m-4", "m-3", "m-2", "m-1", "m-0"]);
      expect(await readable(r)).toHaveLength(5);
      // Once done, nothing more to do.
      expect(await migrateLocalTable(client, name, { journalPath: join(dir, "journal") })).toEqual({ action: "none", items: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a rebuild killed after the table was dropped is finished from its journal at the next start", async () => {
    const name = await oldTable();
    const r = repo(name, 4);
    await r.create(watch("acme", "j-1", Date.parse("2026-12-01T10:00:00Z")));
    const items = (await client.send(new ScanCommand({ TableName: name }))).Items ?? [];
    const dir = mkdtempSync(join(tmpdir(), "migrate-"));
    try {
      writeFileSync(join(dir, "journal"), JSON.stringify(items));
      await client.send(new DeleteTableCommand({ TableName: name }));
      expect(await migrateLocalTable(client, name, { journalPath: join(dir, "journal") })).toEqual({ action: "replayed", items: 1 });
      expect((await r.get("acme", "j-1"))?.task_id).toBe("j-1");
      expect((await page(r, "acme", { limit: 10 })).items).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("DUE_SHARDS changed with watches stored", () => {
  const ids = [...Array(60).keys()].map((i) => `task-${i}`);

  it("lowered (32 -> 8): the sweep moves every entry beyond shard 7 to its shard, without touching version or lease", async () => {
    const table = await freshTable();
    const before = repo(table, 32);
    const t0 = Date.parse("2026-12-01T10:00:00Z");
    for (const id of ids) await before.create(watch("acme", id, t0));
    // One is being delivered by a writer holding the lease.
    const leased = ids.find((id) => Number(shardOf({ tenant: "acme", task_id: id }, 32).slice(2)) >= 8)!;
    const held = (await before.save((await before.get("acme", leased))!, t0 + 60_000)) as Watch;

    const after = repo(table, 8);
    const stray = await after.strayDueKeys();
    expect(stray.length).toBeGreaterThan(ids.length / 2);
    expect(new Set(stray.map((k) => k.shard)).size).toBeGreaterThan(8);
    // Without the sweep, these watches are where no reader of 8 shards looks.
    expect((await readable(after)).length).toBe(ids.length - stray.length);

    expect(await sweepStrayShards(after, quiet)).toBe(stray.length);
    expect(await readable(after)).toEqual([...ids].sort());
    expect(await after.strayDueKeys()).toEqual([]);
    const moved = (await after.get("acme", leased))!;
    expect(moved.version).toBe(held.version);
    expect(moved.lease_until).toBe(t0 + 60_000);
    // The lease holder's next write still succeeds: the move changed no version.
    expect(await after.save(moved)).not.toBe("conflict");
  });

  it("raised (4 -> 16): every stored entry is still read, and none is stray", async () => {
    const table = await freshTable();
    const before = repo(table, 4);
    for (const id of ids) await before.create(watch("acme", id, Date.parse("2026-12-01T10:00:00Z")));
    const after = repo(table, 16);
    expect(await readable(after)).toEqual([...ids].sort());
    expect(await after.strayDueKeys()).toEqual([]);
    expect(await sweepStrayShards(after, quiet)).toBe(0);
  });

  it("a move loses to a writer that got there first", async () => {
    const table = await freshTable();
    const before = repo(table, 32);
    const id = ids.find((x) => Number(shardOf({ tenant: "acme", task_id: x }, 32).slice(2)) >= 8)!;
    await before.create(watch("acme", id, Date.parse("2026-12-01T10:00:00Z")));
    const after = repo(table, 8);
    const [k] = await after.strayDueKeys();
    // Another writer (on the new count) saves the watch: it lands in its new shard.
    await after.save((await after.get("acme", id))!);
    expect(await after.reshard(k!)).toBe(false);
    expect(await readable(after)).toEqual([id]);
  });
});
