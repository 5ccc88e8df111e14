/**
 * A local table made before the tenant listing moved from the `by_created`
 * LSI to a GSI (or with any other index set than `infra/table.json`'s) is
 * rebuilt at start: indexes of an existing table cannot be changed in place
 * (an LSI never), so its items are copied to a journal file, the table is
 * dropped and created again, and the items are put back. A kill during the
 * rebuild leaves the journal, which the next start replays.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import {
  type AttributeValue,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import definition from "../../table.json";
import { ensureTable } from "../../table";

type Item = Record<string, AttributeValue>;

/** The index names and kinds of a table as described, e.g. `gsi:by_created`, sorted. */
function indexSet(t: { LocalSecondaryIndexes?: Array<{ IndexName?: string }>; GlobalSecondaryIndexes?: Array<{ IndexName?: string }> }): string[] {
  return [...(t.LocalSecondaryIndexes ?? []).map((i) => `lsi:${i.IndexName}`), ...(t.GlobalSecondaryIndexes ?? []).map((i) => `gsi:${i.IndexName}`)].sort();
}

async function scanAll(db: DynamoDBClient, table: string): Promise<Item[]> {
  const out: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }));
    out.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

function writeDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * Make `table` have exactly the indexes of `infra/table.json`, keeping every item.
 * @returns what was done: nothing, a rebuild (items copied), or a replay of an interrupted one
 */
export async function migrateLocalTable(
  db: DynamoDBClient,
  table: string,
  opts: { journalPath: string },
): Promise<{ action: "none" | "rebuilt" | "replayed"; items: number }> {
  let replay = existsSync(opts.journalPath);
  if (!replay) {
    let described;
    try {
      described = (await db.send(new DescribeTableCommand({ TableName: table }))).Table;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return { action: "none", items: 0 };
      throw err;
    }
    if (JSON.stringify(indexSet(described ?? {})) === JSON.stringify(indexSet(definition))) return { action: "none", items: 0 };
    writeDurably(opts.journalPath, JSON.stringify(await scanAll(db, table)));
    replay = true;
  }
  const items = JSON.parse(readFileSync(opts.journalPath, "utf8")) as Item[];
  const rebuilt = await rebuild(db, table, items);
  rmSync(opts.journalPath);
  return { action: rebuilt ? "rebuilt" : "replayed", items: items.length };
}

/** Drop the table unless it already has the definition's indexes (an interrupted rebuild), create it, put `items`. */
async function rebuild(db: DynamoDBClient, table: string, items: Item[]): Promise<boolean> {
  let dropped = false;
  try {
    const t = (await db.send(new DescribeTableCommand({ TableName: table }))).Table;
    if (JSON.stringify(indexSet(t ?? {})) !== JSON.stringify(indexSet(definition))) {
      await db.send(new DeleteTableCommand({ TableName: table }));
      dropped = true;
      for (let i = 0; i < 100; i++) {
        try {
          await db.send(new DescribeTableCommand({ TableName: table }));
        } catch (err) {
          if (err instanceof ResourceNotFoundException) break;
          throw err;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
  await ensureTable(db, table);
  for (const item of items) await db.send(new PutItemCommand({ TableName: table, Item: item }));
  return dropped;
}
