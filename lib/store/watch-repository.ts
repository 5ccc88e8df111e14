/**
 * The {@link WatchRepository} on DynamoDB: every change is a conditional
 * write on the version read before. Item layout: `item-codec.ts`.
 */
import { StoreError } from "../domain/errors";
import { createHmac, timingSafeEqual } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "../domain/zod";
import type { Decision, DueKey, ListResult, PollRound, ShardedDueKey, SweepRecord, UpdateResult, WatchRepository } from "../app/ports";
import { readDecideWrite } from "../app/update-watch";
import type { Watch } from "../domain/watch";
import { type CodecOptions, dueKeyOf, fromItem, INDEX_BY_CREATED, INDEX_DUE, MAX_DUE_SHARDS, pkOf, shardOf, skOf, toItem } from "./item-codec";


const keyPart = z.string().check(z.minLength(1), z.maxLength(1024));
const cursorSchema = z.object({ pk: keyPart, sk: keyPart, created_key: keyPart });
const cursorEnvelope = z.object({ k: z.unknown(), m: z.string() });

export interface StoreOptions extends CodecOptions {
  tableName: string;
  /** HMAC key of list cursors: a cursor we did not issue, or issued to another tenant, is refused. */
  cursorKey: Buffer;
  /** Told about stored items that do not parse (the poller skips them and carries on). */
  onMalformed?: (key: string, problem: string) => void;
}

/** DynamoDB repository for watches. The client is passed in, never built here. */
export class DynamoWatchRepository implements WatchRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly opts: StoreOptions,
  ) {}

  dueShards(): string[] {
    return Array.from({ length: this.opts.dueShards }, (_, i) => `S#${i}`);
  }

  async create(w: Watch): Promise<{ created: true; watch: Watch } | { created: false; existing: Watch }> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: toItem(w, this.opts),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return { created: true, watch: w };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    const existing = await this.get(w.tenant, w.task_id);
    // Deleted by TTL between the two calls: vanishingly rare, and a retry by
    // the client will create it.
    if (existing === null) throw new StoreError("watch vanished during registration");
    return { created: false, existing };
  }

  async get(tenant: string, taskId: string, o: { consistent?: boolean } = {}): Promise<Watch | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.opts.tableName, Key: { pk: pkOf(tenant), sk: skOf(taskId) }, ConsistentRead: o.consistent ?? true }),
    );
    if (!out.Item) return null;
    try {
      return fromItem(out.Item);
    } catch (err) {
      this.opts.onMalformed?.(`${pkOf(tenant)}/${skOf(taskId)}`, err instanceof Error ? err.message : "unparsable");
      throw err;
    }
  }

  /** @returns the stored watch (version + 1), or `conflict` if another writer won */
  async save(w: Watch, leaseUntil?: number): Promise<Watch | "conflict"> {
    const { lease_until: _old, ...rest } = w;
    const next: Watch = { ...rest, version: w.version + 1 };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: toItem(next, this.opts, leaseUntil),
          ConditionExpression: "version = :v",
          ExpressionAttributeValues: { ":v": w.version },
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return "conflict";
      throw err;
    }
    return leaseUntil === undefined ? next : { ...next, lease_until: leaseUntil };
  }

  update<A>(tenant: string, taskId: string, decide: (current: Watch) => Decision<A> | Promise<Decision<A>>, opts?: { current?: Watch; tries?: number }): Promise<UpdateResult<A>> {
    return readDecideWrite(this, tenant, taskId, decide, opts);
  }

  /**
   * A page of the tenant's watches, newest first: keys from the keys-only
   * `by_created` GSI, then the items themselves (BatchGetItem, consistent).
   * The GSI is eventually consistent: a watch registered a moment ago may be
   * missing from a listing for a fraction of a second (never from `get`). An
   * index entry whose item is missing (an index written a moment before or
   * after its item, as dynalite does) or unreadable is skipped, and each
   * watch appears once however the two disagree, so listing is correct
   * whatever the store does between index and table. The status filter is
   * applied to the items as read.
   */
  async list(tenant: string, q: { status?: string; limit: number; cursor?: string }): Promise<ListResult> {
    let startKey: Record<string, unknown> | null | undefined;
    if (q.cursor !== undefined) {
      startKey = decodeCursor(q.cursor, pkOf(tenant), this.opts.cursorKey);
      if (startKey === null) return { ok: false, reason: "invalid_cursor" };
    }
    const items: Watch[] = [];
    const seen = new Set<string>();
    // A status filter or skew may thin out pages; bound the work one request does.
    for (let page = 0; page < 10 && items.length < q.limit; page++) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.opts.tableName,
          IndexName: INDEX_BY_CREATED,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pkOf(tenant) },
          ScanIndexForward: false,
          Select: "ALL_PROJECTED_ATTRIBUTES",
          Limit: q.limit - items.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      const entries = (out.Items ?? []).filter((it) => typeof it.sk === "string" && typeof it.created_key === "string");
      const fetched = await this.itemsOfPartition(pkOf(tenant), [...new Set(entries.map((e) => e.sk as string))]);
      for (const e of entries) {
        const got = fetched.get(e.sk as string);
        // Only the entry the item itself names counts: a stale entry (an old
        // created_key, on this page or another) never lists the watch twice.
        if (got === undefined || got.createdKey !== e.created_key || seen.has(e.sk as string)) continue;
        seen.add(e.sk as string);
        if (q.status === undefined || got.watch.status === q.status) items.push(got.watch);
      }
      startKey = out.LastEvaluatedKey ? cursorSchema.parse(out.LastEvaluatedKey) : undefined;
      if (!startKey) break;
    }
    return { ok: true, page: { items, nextCursor: startKey ? encodeCursor(startKey, pkOf(tenant), this.opts.cursorKey) : null } };
  }

  /** The items of one partition by sort key, consistently read; missing and unreadable ones are absent from the answer. */
  private async itemsOfPartition(pk: string, sks: string[]): Promise<Map<string, { watch: Watch; createdKey: unknown }>> {
    const found = new Map<string, { watch: Watch; createdKey: unknown }>();
    for (const it of await this.batchGet(sks.map((sk) => ({ pk, sk })), true)) {
      try {
        found.set(String(it.sk), { watch: fromItem(it), createdKey: it.created_key });
      } catch (err) {
        this.opts.onMalformed?.(`${String(it.pk)}/${String(it.sk)}`, err instanceof Error ? err.message : "unparsable");
      }
    }
    return found;
  }

  async dueKeys(shard: string, range: { after?: number; upTo: number }): Promise<DueKey[]> {
    const out: DueKey[] = [];
    const values: Record<string, unknown> = { ":s": shard, ":to": range.upTo };
    if (range.after !== undefined) values[":from"] = range.after;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.opts.tableName,
          IndexName: INDEX_DUE,
          // BETWEEN is inclusive at both ends; `after` is exclusive, hence + 1 ms.
          KeyConditionExpression:
            range.after === undefined ? "due_shard = :s AND due_at <= :to" : "due_shard = :s AND due_at BETWEEN :from1 AND :to",
          ExpressionAttributeValues:
            range.after === undefined ? values : { ":s": shard, ":to": range.upTo, ":from1": range.after + 1 },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const it of page.Items ?? []) {
        const k = dueKeyOf(it);
        if (k) out.push(k);
        // One corrupt entry must not stop every other watch from being polled.
        else this.opts.onMalformed?.(`${String(it.pk)}/${String(it.sk)}`, "due index entry without tenant or task id");
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  async strayDueKeys(): Promise<ShardedDueKey[]> {
    const stray = Array.from({ length: Math.max(0, MAX_DUE_SHARDS - this.opts.dueShards) }, (_, i) => `S#${this.opts.dueShards + i}`);
    const found = await Promise.all(
      stray.map(async (shard) => (await this.dueKeys(shard, { upTo: Number.MAX_SAFE_INTEGER })).map((k) => ({ ...k, shard }))),
    );
    return found.flat();
  }

  async reshard(k: ShardedDueKey): Promise<boolean> {
    const key = { pk: pkOf(k.tenant), sk: skOf(k.taskId) };
    const got = await this.db.send(new GetCommand({ TableName: this.opts.tableName, Key: key, ConsistentRead: true }));
    const item = got.Item;
    if (!item || item.due_shard !== k.shard || typeof item.version !== "number") return false;
    const to = shardOf({ tenant: k.tenant, task_id: k.taskId }, this.opts.dueShards);
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.opts.tableName,
          // The item as stored (its lease included), only in another shard.
          Item: { ...item, due_shard: to },
          // Nobody wrote it since: a writer that did has placed it by its own count.
          ConditionExpression: "version = :v AND due_shard = :from",
          ExpressionAttributeValues: { ":v": item.version, ":from": k.shard },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async getMany(keys: ReadonlyArray<{ tenant: string; taskId: string }>) {
    const found: Watch[] = [];
    const malformed: Array<{ tenant: string; taskId: string }> = [];
    for (const item of await this.batchGet(keys.map((k) => ({ pk: pkOf(k.tenant), sk: skOf(k.taskId) })), true)) {
      try {
        found.push(fromItem(item));
      } catch (err) {
        // As for one read: reported, and the others are still handled.
        this.opts.onMalformed?.(`${String(item.pk)}/${String(item.sk)}`, err instanceof Error ? err.message : "unparsable");
        malformed.push({ tenant: String(item.pk).slice(2), taskId: String(item.sk).slice(2) });
      }
    }
    return { found, malformed };
  }

  async readSweeps(shards: readonly string[], opts: { consistent?: boolean } = {}): Promise<SweepRecord[]> {
    const items = await this.batchGet(shards.map((s) => ({ pk: SWEEP_PK, sk: s })), opts.consistent === true);
    return items.flatMap((it) => {
      const r = sweepItem.safeParse(it);
      if (!r.success) return [];
      const { sk, at, open, buckets, round, next } = r.data;
      return [{ shard: sk, at, open, buckets, ...(round !== undefined ? { round } : {}), ...(next !== undefined ? { next } : {}) }];
    });
  }

  async writeSweep(r: SweepRecord): Promise<void> {
    const { shard, ...rest } = r;
    await this.db.send(new PutCommand({ TableName: this.opts.tableName, Item: { pk: SWEEP_PK, sk: shard, ...rest } }));
  }

  async readRound(): Promise<PollRound | null> {
    const res = await this.db.send(new GetCommand({ TableName: this.opts.tableName, Key: { pk: SWEEP_PK, sk: ROUND_SK }, ConsistentRead: true }));
    const r = roundItem.safeParse(res.Item);
    return r.success ? { round: r.data.round, coverUntil: r.data.coverUntil, ...(r.data.ended ? { ended: true } : {}) } : null;
  }

  async startRound(r: PollRound): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.opts.tableName, Item: { pk: SWEEP_PK, sk: ROUND_SK, round: r.round, coverUntil: r.coverUntil } }));
  }

  async endRound(r: PollRound): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: { pk: SWEEP_PK, sk: ROUND_SK, round: r.round, coverUntil: r.coverUntil, ended: true },
          // A successor that started meanwhile owns the item now.
          ConditionExpression: "#r = :r",
          ExpressionAttributeNames: { "#r": "round" },
          ExpressionAttributeValues: { ":r": r.round },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** BatchGetItem in pages of 100, retrying what DynamoDB leaves unprocessed. */
  private async batchGet(keys: Array<{ pk: string; sk: string }>, consistent: boolean): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Array<Record<string, unknown>> = keys.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((ok) => setTimeout(ok, Math.min(1_000, 25 * 2 ** attempt)));
        if (attempt > 6) throw new StoreError(`BatchGetItem left ${pending.length} keys unprocessed`);
        const res = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.opts.tableName]: { Keys: pending, ConsistentRead: consistent } } }),
        );
        out.push(...(res.Responses?.[this.opts.tableName] ?? []));
        pending = res.UnprocessedKeys?.[this.opts.tableName]?.Keys ?? [];
      }
    }
    return out;
  }
}

/** Sweep records live beside the watches under their own partition key, with no index keys. */
const SWEEP_PK = "sweep";
const sweepItem = z.object({
  sk: z.string(),
  at: z.number(),
  open: z.number(),
  buckets: z.array(z.number()),
  round: z.optional(z.number()),
  next: z.optional(z.string()),
});
/** The poll round (`handover.ts`) beside them. */
const ROUND_SK = "round";
const roundItem = z.object({ round: z.number(), coverUntil: z.number(), ended: z.optional(z.boolean()) });

/** The MAC binds a cursor to the key it names and to the tenant it was issued to. */
function cursorMac(key: Buffer, pk: string, startKey: string): string {
  return createHmac("sha256", key).update(`${pk}\n${startKey}`).digest("base64url");
}

function encodeCursor(startKey: Record<string, unknown>, pk: string, key: Buffer): string {
  const k = JSON.stringify(startKey);
  return Buffer.from(JSON.stringify({ k, m: cursorMac(key, pk, k) })).toString("base64url");
}

/** The start key a cursor names, or null when we did not issue it to this tenant. */
function decodeCursor(cursor: string, pk: string, key: Buffer): Record<string, unknown> | null {
  let envelope: unknown;
  try {
    envelope = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  const e = cursorEnvelope.safeParse(envelope);
  if (!e.success || typeof e.data.k !== "string") return null;
  const expected = Buffer.from(cursorMac(key, pk, e.data.k));
  const given = Buffer.from(e.data.m);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(e.data.k);
  } catch {
    return null;
  }
  const r = cursorSchema.safeParse(parsed);
  if (!r.success || r.data.pk !== pk) return null;
  return r.data;
}
