/**
 * The {@link WatchRepository} on DynamoDB: every change is a conditional
 * write on the version read before. Item layout: `item-codec.ts`.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "../domain/zod";
import { InvalidCursorError, type WatchPage, type WatchRepository } from "../app/ports";
import type { Watch } from "../domain/watch";
import { type CodecOptions, fromItem, INDEX_BY_CREATED, INDEX_DUE, pkOf, shardOf, skOf, toItem } from "./item-codec";

export class StoreError extends Error {
  override name = "StoreError";
}

const cursorSchema = z.object({ pk: z.string(), sk: z.string(), created_key: z.string() });

export interface StoreOptions extends CodecOptions {
  tableName: string;
  /** Told about stored items that do not parse, which the tick skips. */
  onMalformed?: (key: string, problem: string) => void;
}

/** DynamoDB repository for watches. The client is passed in, never built here. */
export class DynamoWatchRepository implements WatchRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly opts: StoreOptions,
  ) {}

  /** Shard of a watch in the due index. */
  shardOf(w: Pick<Watch, "tenant" | "task_id">): string {
    return shardOf(w, this.opts.dueShards);
  }

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
    return out.Item ? fromItem(out.Item) : null;
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

  async list(tenant: string, q: { status?: string; limit: number; cursor?: string }): Promise<WatchPage> {
    let startKey = q.cursor === undefined ? undefined : decodeCursor(q.cursor, pkOf(tenant));
    const items: Watch[] = [];
    // A status filter may thin out pages; bound the work one request does.
    for (let page = 0; page < 10 && items.length < q.limit; page++) {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.opts.tableName,
          IndexName: INDEX_BY_CREATED,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pkOf(tenant), ...(q.status ? { ":s": q.status } : {}) },
          ...(q.status ? { FilterExpression: "#s = :s", ExpressionAttributeNames: { "#s": "status" } } : {}),
          ScanIndexForward: false,
          Limit: q.limit - items.length,
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const it of out.Items ?? []) items.push(fromItem(it));
      startKey = out.LastEvaluatedKey ? cursorSchema.parse(out.LastEvaluatedKey) : undefined;
      if (!startKey) break;
    }
    return { items, nextCursor: startKey ? Buffer.from(JSON.stringify(startKey)).toString("base64url") : null };
  }

  /**
   * Reads the index (eventually consistent): the version check on write is
   * what makes a stale read harmless.
   */
  async due(shard: string, now: number, limit: number): Promise<Watch[]> {
    const out: Watch[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.opts.tableName,
          IndexName: INDEX_DUE,
          KeyConditionExpression: "due_shard = :s AND due_at <= :now",
          ExpressionAttributeValues: { ":s": shard, ":now": now },
          Limit: limit - out.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const it of page.Items ?? []) {
        try {
          out.push(fromItem(it));
        } catch (err) {
          // One corrupt item must not stop every other watch from being polled.
          this.opts.onMalformed?.(`${String(it.pk)}/${String(it.sk)}`, err instanceof Error ? err.message : "unparsable");
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && out.length < limit);
    return out;
  }

  async ping(): Promise<void> {
    await this.db.send(new GetCommand({ TableName: this.opts.tableName, Key: { pk: "health", sk: "health" } }));
  }
}

function decodeCursor(cursor: string, pk: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new InvalidCursorError("cursor is not valid");
  }
  const r = cursorSchema.safeParse(parsed);
  if (!r.success || r.data.pk !== pk) throw new InvalidCursorError("cursor is not valid");
  return r.data;
}
