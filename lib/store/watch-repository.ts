/**
 * The {@link WatchRepository} on DynamoDB: every change is a conditional
 * write on the version read before. Item layout: `item-codec.ts`.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "../domain/zod";
import { type DueKey, InvalidCursorError, type WatchPage, type WatchRepository } from "../app/ports";
import type { Watch } from "../domain/watch";
import { type CodecOptions, dueKeyOf, fromItem, INDEX_BY_CREATED, INDEX_DUE, pkOf, shardOf, skOf, toItem } from "./item-codec";

export class StoreError extends Error {
  override name = "StoreError";
}

const cursorSchema = z.object({ pk: z.string(), sk: z.string(), created_key: z.string() });

export interface StoreOptions extends CodecOptions {
  tableName: string;
  /** Told about stored items that do not parse (the poller skips them and carries on). */
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
          // The index holds keys only; DynamoDB fetches each item from the table.
          Select: "ALL_ATTRIBUTES",
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
