/**
 * Index repair at start of the local stack. dynalite writes an item's index
 * entries and then the item as separate LevelDB writes, so a `kill -9` can
 * leave an index entry that disagrees with its item: a `due` entry under a
 * due time that was never stored, a missing one (the watch would never be
 * polled again), or one for an item that was never created. Before anything is served, every item
 * is written again (dynalite rewrites its index entries from it, and any
 * delivery lease of the dead process is dropped: the data-directory lock
 * guarantees it had no successor), then every index entry that no item
 * accounts for is removed. Repairs that take two writes are journalled
 * first, so a kill during the repair is itself repaired on the next start.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";

type Item = Record<string, AttributeValue>;

export interface RepairSummary {
  items: number;
  /** Index entries that disagreed with their item (other version, other key, no item) or were missing. */
  staleEntries: number;
  journalReplayed: number;
}

interface JournalEntry {
  /** The item to restore (`put`) or the key to delete (`delete`) once the stale entry is gone. */
  op: "put" | "delete";
  item: Item;
}

const keyOf = (it: Item) => `${it.pk?.S ?? ""}\u0000${it.sk?.S ?? ""}`;

async function scanAll(db: DynamoDBClient, table: string, indexName?: string): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await db.send(
      new ScanCommand({ TableName: table, ...(indexName ? { IndexName: indexName } : {}), ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

function writeJournal(path: string, entries: JournalEntry[]): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(entries));
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

async function applyJournal(db: DynamoDBClient, table: string, entries: JournalEntry[]): Promise<void> {
  for (const e of entries) {
    if (e.op === "put") await db.send(new PutItemCommand({ TableName: table, Item: e.item }));
    else await db.send(new DeleteItemCommand({ TableName: table, Key: { pk: e.item.pk!, sk: e.item.sk! } }));
  }
}

/** Make every index agree with the items; run before the API or the poller start. */
export async function repairIndexes(
  db: DynamoDBClient,
  table: string,
  opts: { journalPath: string; indexes: { due: string; byCreated: string } },
): Promise<RepairSummary> {
  let journalReplayed = 0;
  if (existsSync(opts.journalPath)) {
    const entries = JSON.parse(readFileSync(opts.journalPath, "utf8")) as JournalEntry[];
    await applyJournal(db, table, entries);
    journalReplayed = entries.length;
    rmSync(opts.journalPath);
  }

  const items = (await scanAll(db, table)).filter((it) => it.pk?.S?.startsWith("T#"));
  // Counted before the rewrite below silently fixes them: entries of another
  // due time under the right key, and items the index has lost. (What the due
  // index projects from an item is refreshed by the same rewrite.)
  const dueBefore = new Map((await scanAll(db, table, opts.indexes.due)).map((e) => [keyOf(e), e]));
  let rewritten = 0;
  for (const it of items) {
    const entry = dueBefore.get(keyOf(it));
    if (it.due_at !== undefined && (entry === undefined || entry.due_at?.N !== it.due_at.N || entry.due_shard?.S !== it.due_shard?.S)) rewritten++;
  }
  const byKey = new Map<string, Item>();
  for (const it of items) {
    const { lease_until: _lease, ...rest } = it;
    byKey.set(keyOf(rest), rest);
    // Same item again: dynalite replaces index entries stored under the same key with this content.
    await db.send(new PutItemCommand({ TableName: table, Item: rest }));
  }

  // Entries under a key their item does not have (or of an item that does not exist).
  const stale: Item[] = [];
  for (const entry of await scanAll(db, table, opts.indexes.due)) {
    const item = byKey.get(keyOf(entry));
    if (!item || item.due_shard?.S !== entry.due_shard?.S || item.due_at?.N !== entry.due_at?.N) stale.push(entry);
  }
  for (const entry of await scanAll(db, table, opts.indexes.byCreated)) {
    if (!byKey.has(keyOf(entry))) stale.push(entry);
  }
  for (const entry of stale) {
    const item = byKey.get(keyOf(entry));
    // Putting the stale copy makes dynalite own its index entries, so the
    // next write (the real item again, or a delete) removes them.
    const plan: JournalEntry[] = [{ op: item ? "put" : "delete", item: item ?? entry }];
    writeJournal(opts.journalPath, plan);
    await db.send(new PutItemCommand({ TableName: table, Item: entry }));
    await applyJournal(db, table, plan);
    rmSync(opts.journalPath);
  }
  return { items: byKey.size, staleEntries: rewritten + stale.length, journalReplayed };
}
