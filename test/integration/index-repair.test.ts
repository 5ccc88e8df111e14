/**
 * The states a `kill -9` can leave dynalite in, made exactly: dynalite writes
 * an item's index entries, then the item, as separate LevelDB writes, so the
 * test writes a new version through the API and then rewinds the item (or
 * the index) in LevelDB as a crash between the two writes would. The repair
 * at start must make every index agree with the items again.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AttributeValue, GetItemCommand, PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
// dynalite's own storage engine (a dependency of dynalite): used only to make crash states.
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import { localDynamoClient, startDynalite } from "../../infra/dev/local/dynalite-server";
import { repairIndexes } from "../../infra/dev/local/repair-indexes";
import { ensureTable } from "../../infra/table";
import { INDEX_BY_CREATED, INDEX_DUE } from "../../lib/store/item-codec";

const TABLE = "watches";
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type Item = Record<string, AttributeValue>;
const watch = (version: number, dueAt: number | null, extra: Item = {}): Item => ({
  pk: { S: "T#acme" },
  sk: { S: "W#task-1" },
  created_key: { S: "2026-11-28T10:00:00.000Z#task-1" },
  version: { N: String(version) },
  ...(dueAt !== null ? { due_shard: { S: "S#0" }, due_at: { N: String(dueAt) } } : {}),
  ...extra,
});

async function open(dir: string) {
  const d = await startDynalite({ path: dir });
  const db = localDynamoClient(d.endpoint);
  await ensureTable(db, TABLE);
  return {
    db,
    put: (item: Item) => db.send(new PutItemCommand({ TableName: TABLE, Item: item })),
    due: async () =>
      (await db.send(new QueryCommand({ TableName: TABLE, IndexName: INDEX_DUE, KeyConditionExpression: "due_shard = :s", ExpressionAttributeValues: { ":s": { S: "S#0" } } }))).Items ?? [],
    listed: async () =>
      (await db.send(new QueryCommand({ TableName: TABLE, IndexName: INDEX_BY_CREATED, KeyConditionExpression: "pk = :p", ExpressionAttributeValues: { ":p": { S: "T#acme" } } }))).Items ?? [],
    item: async () => (await db.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: "T#acme" }, sk: { S: "W#task-1" } } }))).Item,
    repair: () => repairIndexes(db, TABLE, { journalPath: join(dir, "journal"), indexes: { due: INDEX_DUE, byCreated: INDEX_BY_CREATED } }),
    async close() {
      db.destroy();
      await d.close();
    },
  };
}

/** Edit LevelDB directly while dynalite is stopped, as a crash would have left it. */
async function crash(dir: string, edit: (level: ClassicLevel<string, string>, keys: string[]) => Promise<void>) {
  const level = new ClassicLevel<string, string>(dir, { valueEncoding: "utf8" });
  const keys: string[] = [];
  for await (const k of level.keys()) keys.push(k);
  await edit(level, keys);
  await level.close();
}
const itemKey = (keys: string[]) => keys.find((k) => k.startsWith(`item-${TABLE}~`))!;
/** What a keys-only index entry says: where the watch is due. */
const summary = (entries: Item[]) => entries.map((i) => ({ sk: i.sk?.S, due_at: i.due_at?.N }));

async function scenario(prepare: (dir: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), "taskwatch-repair-"));
  dirs.push(dir);
  await prepare(dir);
  return open(dir);
}

describe("index repair at start", () => {
  it("a due entry under a new key whose item write never happened: removed, the item's own entry restored", async () => {
    const s = await scenario(async (dir) => {
      const a = await open(dir);
      await a.put(watch(1, 100));
      await a.close();
      let v1 = "";
      await crash(dir, async (l, keys) => {
        v1 = (await l.get(itemKey(keys))) ?? "";
      });
      const b = await open(dir);
      await b.put(watch(2, 200));
      await b.close();
      await crash(dir, (l, keys) => l.put(itemKey(keys), v1));
    });
    try {
      // Version 2's entry in the index, version 1 stored: the poller would find the watch under the wrong time, or not at all.
      expect(summary(await s.due())).toEqual([{ sk: "W#task-1", due_at: "200" }]);
      const r = await s.repair();
      // The stray version-2 entry, and version 1's entry that dynalite had already deleted.
      expect(r.staleEntries).toBe(2);
      expect(summary(await s.due())).toEqual([{ sk: "W#task-1", due_at: "100" }]);
    } finally {
      await s.close();
    }
  });

  it("a newer version under the same key leaves a right entry (keys-only); a dead process's lease is dropped", async () => {
    const s = await scenario(async (dir) => {
      const a = await open(dir);
      await a.put(watch(1, 100, { lease_until: { N: "9999999999999" } }));
      await a.close();
      let v1 = "";
      await crash(dir, async (l, keys) => {
        v1 = (await l.get(itemKey(keys))) ?? "";
      });
      const b = await open(dir);
      await b.put(watch(2, 100));
      await b.close();
      await crash(dir, (l, keys) => l.put(itemKey(keys), v1));
    });
    try {
      // Keys-only indexes: a newer version under the same keys leaves an entry that is still right.
      expect(summary(await s.due())).toEqual([{ sk: "W#task-1", due_at: "100" }]);
      expect((await s.repair()).staleEntries).toBe(0);
      expect(summary(await s.due())).toEqual([{ sk: "W#task-1", due_at: "100" }]);
      expect(await s.listed()).toHaveLength(1);
      // The dead process's lease is gone from the item, which is version 1 as stored.
      const item = await s.item();
      expect(item?.version?.N).toBe("1");
      expect(item?.lease_until).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it("a watch whose index entries were deleted before the crash is found again", async () => {
    const s = await scenario(async (dir) => {
      const a = await open(dir);
      await a.put(watch(1, 100));
      await a.close();
      await crash(dir, async (l, keys) => {
        for (const k of keys.filter((k) => k.startsWith("index-"))) await l.del(k);
      });
    });
    try {
      expect(await s.due()).toEqual([]);
      expect((await s.repair()).staleEntries).toBe(1);
      expect(summary(await s.due())).toEqual([{ sk: "W#task-1", due_at: "100" }]);
      expect(await s.listed()).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it("index entries of an item that was never stored are removed", async () => {
    const s = await scenario(async (dir) => {
      const a = await open(dir);
      await a.put(watch(1, 100));
      await a.close();
      await crash(dir, (l, keys) => l.del(itemKey(keys)));
    });
    try {
      expect(await s.due()).toHaveLength(1);
      // Its due entry and its listing entry.
      expect((await s.repair()).staleEntries).toBe(2);
      expect(await s.due()).toEqual([]);
      expect(await s.listed()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it("a repair cut short is finished from its journal on the next start", async () => {
    const s = await scenario(async (dir) => {
      const a = await open(dir);
      // The repair had just put the stale copy (version 2) back as the item when it was killed.
      await a.put(watch(2, 200));
      await a.close();
      writeFileSync(join(dir, "journal"), JSON.stringify([{ op: "put", item: watch(1, 100) }]));
    });
    try {
      const r = await s.repair();
      expect(r.journalReplayed).toBe(1);
      expect(summary(await s.due())).toEqual([{ sk: "W#task-1", due_at: "100" }]);
      expect((await s.item())?.version?.N).toBe("1");
    } finally {
      await s.close();
    }
  });
});
