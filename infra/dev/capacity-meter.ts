/**
 * DynamoDB capacity units of the commands actually sent, as on-demand
 * DynamoDB would bill them: item sizes by DynamoDB's rules, a write billed
 * on the larger of the old and new item, and each index written only when
 * an item enters it, leaves it, or changes its keys or projected attributes
 * (a key change costs two writes). dynalite does not count index writes, so
 * this reads the old item first (uncounted) and works them out from
 * `infra/table.json`. For tests and the benchmark only.
 */
import { type AttributeValue, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import definition from "../table.json";

export interface CapacityTotals {
  /** Read units (4 KB strongly consistent, half that eventually). */
  read: number;
  /** Write units of the table itself (1 KB each). */
  tableWrite: number;
  /** Write units of each index. */
  indexWrite: Record<string, number>;
  /** Write units of items that are not watches (the poller's `health` items), table and indexes. */
  otherWrite: number;
  /** Commands by name. */
  commands: Record<string, number>;
  /** Each write to a watch's partition, in order: its sort key, the larger item's bytes, and its units by table and index. */
  writes: WriteCharge[];
}

/** One PutItem as billed. */
export interface WriteCharge {
  sk: string;
  bytes: number;
  table: number;
  indexes: Record<string, number>;
  applied: boolean;
}

type Item = Record<string, AttributeValue>;

/** DynamoDB's size of a value: names and values in UTF-8, numbers by digits. */
function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) {
    const digits = v.N.replace(/^-|\.|e.*$/gi, "").replace(/^0+/, "").length;
    return Math.ceil(digits / 2) + 1;
  }
  // Bytes, as DynamoDB bills them: the wire (the proxy) carries them in base64, the SDK as a Uint8Array.
  if (v.B !== undefined) return typeof (v.B as unknown) === "string" ? Buffer.from(v.B as unknown as string, "base64").length : v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((n, [k, x]) => n + Buffer.byteLength(k) + valueSize(x) + 1, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, x) => n + valueSize(x) + 1, 0);
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + s.length, 0);
  return 0;
}

const ATTRIBUTE_TYPES = new Set(["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"]);

/** An item as DynamoDB holds it, whether the SDK hands it over marshalled or already as plain values. */
function asItem(item: Record<string, unknown>): Item {
  const marshalled = Object.values(item).every((v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const keys = Object.keys(v);
    return keys.length === 1 && ATTRIBUTE_TYPES.has(keys[0]!);
  });
  return marshalled ? (item as Item) : marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true });
}

export function itemSize(item: Item): number {
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + valueSize(v), 0);
}

interface IndexDef {
  name: string;
  keys: string[];
  projected: string[] | "ALL";
}

const tableKeys = definition.KeySchema.map((k) => k.AttributeName);
const indexes: IndexDef[] = definition.GlobalSecondaryIndexes.map((i) => {
  const keys = i.KeySchema.map((k) => k.AttributeName);
  const p = i.Projection as { ProjectionType: string; NonKeyAttributes?: string[] };
  return {
    name: i.IndexName,
    keys,
    projected: p.ProjectionType === "ALL" ? "ALL" : [...new Set([...keys, ...tableKeys, ...(p.NonKeyAttributes ?? [])])],
  };
});

const same = (a: AttributeValue | undefined, b: AttributeValue | undefined) => JSON.stringify(a) === JSON.stringify(b);
const kb = (bytes: number, unit: number) => Math.max(1, Math.ceil(bytes / unit));

function projection(item: Item, ix: IndexDef): Item {
  if (ix.projected === "ALL") return item;
  return Object.fromEntries(ix.projected.filter((a) => item[a] !== undefined).map((a) => [a, item[a]!]));
}

/** Write units an index is charged for one item going from `before` to `after` (either may be absent). */
function indexWrites(ix: IndexDef, before: Item | undefined, after: Item | undefined): number {
  const inIx = (it: Item | undefined) => it !== undefined && ix.keys.every((k) => it[k] !== undefined);
  // An index entry is the projected attributes plus 100 bytes of overhead.
  const size = (it: Item) => kb(itemSize(projection(it, ix)) + 100, 1024);
  const was = inIx(before);
  const is = inIx(after);
  if (!was && !is) return 0;
  if (!was) return size(after!);
  if (!is) return size(before!);
  if (!ix.keys.every((k) => same(before![k], after![k]))) return size(before!) + size(after!);
  const p1 = projection(before!, ix);
  const p2 = projection(after!, ix);
  const keys = new Set([...Object.keys(p1), ...Object.keys(p2)]);
  return [...keys].every((k) => same(p1[k], p2[k])) ? 0 : size(after!);
}

/** Add one PutItem's units: the table's (the larger of old and new item) and each index's. */
export function chargePut(totals: CapacityTotals, before: Item | undefined, after: Item, applied: boolean): void {
  const bytes = Math.max(itemSize(after), before ? itemSize(before) : 0);
  const units = kb(bytes, 1024);
  // Per deployment, not per watch: kept apart so a watch's life can be counted.
  if (!after.pk?.S?.startsWith("T#")) {
    totals.otherWrite += units;
    return;
  }
  totals.tableWrite += units;
  const charge: WriteCharge = { sk: after.sk?.S ?? "", bytes, table: units, indexes: {}, applied };
  totals.writes.push(charge);
  // A failed condition is billed on the table, and changes no index.
  if (!applied) return;
  for (const ix of indexes) {
    const n = indexWrites(ix, before, after);
    totals.indexWrite[ix.name] = (totals.indexWrite[ix.name] ?? 0) + n;
    if (n > 0) charge.indexes[ix.name] = n;
  }
}

/** Add one read's units: the items read, in 4 KB steps, halved when eventually consistent. */
export function chargeRead(totals: CapacityTotals, items: Item[], consistent: boolean): void {
  const bytes = items.reduce((n, it) => n + itemSize(it), 0);
  totals.read += kb(bytes, 4096) * (consistent ? 1 : 0.5);
}

export const emptyTotals = (): CapacityTotals => ({ read: 0, tableWrite: 0, indexWrite: {}, otherWrite: 0, commands: {}, writes: [] });

/** The table's own key attributes. */
export const TABLE_KEYS = tableKeys;

/**
 * Meter every command `client` sends from now on. `reader` is a second client
 * on the same endpoint, used to read old items without being counted.
 */
export function meterCapacity(client: DynamoDBClient, reader: DynamoDBClient): { totals: CapacityTotals; reset(): void } {
  const totals: CapacityTotals = emptyTotals();
  const getOld = async (table: string, key: Item): Promise<Item | undefined> =>
    (await reader.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;

  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      totals.commands[name] = (totals.commands[name] ?? 0) + 1;
      const raw = args.input as { TableName: string; Item?: Record<string, unknown>; Key?: Record<string, unknown>; ConsistentRead?: boolean };
      const input = { ...raw, Item: raw.Item && asItem(raw.Item), Key: raw.Key && asItem(raw.Key) };
      if (name === "PutItemCommand" && input.Item) {
        const key = Object.fromEntries(tableKeys.map((k) => [k, input.Item![k]!]));
        const before = await getOld(input.TableName, key);
        try {
          const result = await next(args);
          chargePut(totals, before, input.Item, true);
          return result;
        } catch (err) {
          chargePut(totals, before, input.Item, false);
          throw err;
        }
      }
      const result = await next(args);
      const out = result.output as { Item?: Record<string, unknown>; Items?: Array<Record<string, unknown>> };
      if (name === "GetItemCommand") chargeRead(totals, out.Item ? [asItem(out.Item)] : [], input.ConsistentRead === true);
      if (name === "QueryCommand") chargeRead(totals, (out.Items ?? []).map(asItem), input.ConsistentRead === true);
      if (name === "BatchGetItemCommand") {
        // Each item is its own read, rounded up on its own.
        const asked = (args.input as { RequestItems?: Record<string, { ConsistentRead?: boolean }> }).RequestItems ?? {};
        const got = (result.output as { Responses?: Record<string, Array<Record<string, unknown>>> }).Responses ?? {};
        for (const [table, items] of Object.entries(got)) for (const it of items) chargeRead(totals, [asItem(it)], asked[table]?.ConsistentRead === true);
      }
      return result;
    },
    // Before the request is signed; items may come marshalled or as plain values (asItem takes both).
    { step: "build", name: "meterCapacity" },
  );
  return {
    totals,
    reset() {
      Object.assign(totals, emptyTotals());
    },
  };
}

/** Total write units of watches: the table's and every index's (not the `health` items). */
export function writeUnits(t: CapacityTotals): number {
  return t.tableWrite + Object.values(t.indexWrite).reduce((a, b) => a + b, 0);
}

