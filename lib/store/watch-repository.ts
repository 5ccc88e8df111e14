/**
 * The {@link WatchRepository} on DynamoDB: every change is a conditional
 * write on the version read before. Item layout: `item-codec.ts`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "../domain/zod";
import { type DueKey, InvalidCursorError, type WatchPage, type WatchRepository } from "../app/ports";
import type { Watch } from "../domain/watch";
import { type CodecOptions, dueKeyOf, fromItem, INDEX_BY_CREATED, INDEX_DUE, pkOf, skOf, toItem } from "./item-codec";

export class StoreError extends Error {
  override name = "StoreError";
}

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

  async get(tenant: string, taskId: string): Promise<Watch | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.opts.tableName, Key: { pk: pkOf(tenant), sk: skOf(taskId) }, ConsistentRead: true }),
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

  /**
   * A page of the tenant's watches, newest first: keys from the keys-only
   * `by_created` index, then the items themselves (BatchGetItem, consistent).
   * An index entry whose item is missing (an index written a moment before
   * or after its item, as dynalite does) or unreadable is skipped, and each
   * watch appears once however the two disagree, so listing is correct
   * whatever the store does between index and table.
   */
  async list(tenant: string, q: { status?: string; limit: number; cursor?: string }): Promise<WatchPage> {
    let startKey = q.cursor === undefined ? undefined : decodeCursor(q.cursor, pkOf(tenant), this.opts.cursorKey);
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
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      const entries = (out.Items ?? []).filter((it) => typeof it.sk === "string" && typeof it.created_key === "string");
      const fetched = await this.batchGet(pkOf(tenant), [...new Set(entries.map((e) => e.sk as string))]);
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
    return { items, nextCursor: startKey ? encodeCursor(startKey, pkOf(tenant), this.opts.cursorKey) : null };
  }

  /** The items of one partition by sort key, consistently read; missing and unreadable ones are absent from the answer. */
  private async batchGet(pk: string, sks: string[]): Promise<Map<string, { watch: Watch; createdKey: unknown }>> {
    const found = new Map<string, { watch: Watch; createdKey: unknown }>();
    for (let i = 0; i < sks.length; i += 100) {
      let keys: Array<Record<string, unknown>> = sks.slice(i, i + 100).map((sk) => ({ pk, sk }));
      // DynamoDB may leave keys unprocessed under load; ask again a few times.
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt === 5) throw new StoreError("listing: the table left keys unprocessed 5 times");
        if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
        const out = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.opts.tableName]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const it of out.Responses?.[this.opts.tableName] ?? []) {
          try {
            found.set(String(it.sk), { watch: fromItem(it), createdKey: it.created_key });
          } catch (err) {
            this.opts.onMalformed?.(`${String(it.pk)}/${String(it.sk)}`, err instanceof Error ? err.message : "unparsable");
          }
        }
        keys = out.UnprocessedKeys?.[this.opts.tableName]?.Keys ?? [];
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

}

/** The MAC binds a cursor to the key it names and to the tenant it was issued to. */
function cursorMac(key: Buffer, pk: string, startKey: string): string {
  return createHmac("sha256", key).update(`${pk}\n${startKey}`).digest("base64url");
}

function encodeCursor(startKey: Record<string, unknown>, pk: string, key: Buffer): string {
  const k = JSON.stringify(startKey);
  return Buffer.from(JSON.stringify({ k, m: cursorMac(key, pk, k) })).toString("base64url");
}

function decodeCursor(cursor: string, pk: string, key: Buffer): Record<string, unknown> {
  const invalid = () => new InvalidCursorError("cursor is not valid");
  let envelope: unknown;
  try {
    envelope = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const e = cursorEnvelope.safeParse(envelope);
  if (!e.success || typeof e.data.k !== "string") throw invalid();
  const expected = Buffer.from(cursorMac(key, pk, e.data.k));
  const given = Buffer.from(e.data.m);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(e.data.k);
  } catch {
    throw invalid();
  }
  const r = cursorSchema.safeParse(parsed);
  if (!r.success || r.data.pk !== pk) throw invalid();
  return r.data;
}
