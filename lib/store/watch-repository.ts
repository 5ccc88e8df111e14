/**
 * The watch repository on DynamoDB (one table, see `infra/table.json`).
 *
 * Item layout:
 * - `pk` = `T#<tenant>`, `sk` = `W#<task_id>`: one watch per (tenant, task id).
 * - LSI `by_created` sorts a tenant's watches by `created_key` for listing,
 *   newest first, with strongly consistent reads.
 * - GSI `due` (`due_shard`, `due_at`) is sparse: only watches with work left
 *   (unfinished, or finished with deliveries owed) carry its keys, so a tick
 *   Queries exactly its work and never Scans.
 * Every change is a conditional write on the version read before.
 */
import { createHash } from "node:crypto";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { isTerminal, WATCH_STATUSES, type Watch } from "../domain/watch";

export const INDEX_BY_CREATED = "by_created";
export const INDEX_DUE = "due";

export class StoreError extends Error {
  override name = "StoreError";
}
/** The cursor of `GET /tasks` did not come from us (or from another tenant). */
export class InvalidCursorError extends StoreError {
  override name = "InvalidCursorError";
}

const nullableString = z.string().nullable();
const resultSchema = z.union([
  z.object({
    kind: z.literal("import"),
    group_id: z.string().optional(),
    swagger: z.object({ id: z.string().optional(), result: z.string().optional() }).optional(),
    success_count: z.number(),
    failure_count: z.number(),
    ignore_count: z.number(),
    success: z.array(z.record(z.string(), z.string())),
    failure: z.array(z.record(z.string(), z.string())),
    ignore: z.array(z.record(z.string(), z.string())),
    truncated: z.boolean(),
  }),
  z.object({
    kind: z.literal("export"),
    file_name: z.string().optional(),
    file_type: z.string().optional(),
    content: z.string().optional(),
    content_chars: z.number(),
    truncated: z.boolean(),
  }),
  z.object({ kind: z.literal("failure"), error_code: z.string().optional(), error_msg: z.string().optional() }),
  z.object({ kind: z.literal("raw"), raw: z.string(), truncated: z.boolean() }),
]);
const statusSchema = z.enum(WATCH_STATUSES);

/** Stored items are outside data too: parse, never cast. */
const watchSchema = z.object({
  tenant: z.string(),
  task_id: z.string(),
  project_id: z.string(),
  instance_id: z.string(),
  region: z.string(),
  status: statusSchema,
  task_type: z.enum(["import_api", "export_api"]).nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  finished_at: nullableString,
  deadline_at: z.string(),
  history: z.array(z.object({ status: statusSchema, at: z.string() })),
  result: resultSchema.nullable(),
  last_error: z
    .object({ code: z.string(), message: z.string(), http_status: z.number().nullable(), at: z.string() })
    .nullable(),
  not_found_since: nullableString,
  labels: z.record(z.string(), z.string()),
  targets: z.array(
    z.object({
      id: z.string(),
      type: z.enum(["slack", "webhook"]),
      url: z.string(),
      secret: z.string().optional(),
      state: z.enum(["pending", "delivered", "dead", "skipped"]),
      attempts: z.number(),
      last_error: nullableString,
      next_attempt_at: z.number().nullable(),
      delivered_at: nullableString,
    }),
  ),
  event_id: nullableString,
  version: z.number().int(),
  lease_until: z.number().optional(),
});

/** A watch as read from the table, with the delivery lease it carries. */
export type StoredWatch = Watch & { lease_until?: number };

const cursorSchema = z.object({ pk: z.string(), sk: z.string(), created_key: z.string() });

export interface StoreOptions {
  tableName: string;
  /** Number of due-index partitions; a watch's shard is a hash of its key. */
  dueShards: number;
  /** Days a finished watch is kept (DynamoDB TTL). */
  retentionDays: number;
  /** Told about stored items that do not parse, which the tick skips. */
  onMalformed?: (key: string, problem: string) => void;
}

/** Owed deliveries of a terminal watch, or null when nothing is owed. */
export function nextDeliveryAt(w: Watch): number | null {
  if (!isTerminal(w.status) || w.status === "cancelled") return null;
  let min: number | null = null;
  for (const t of w.targets) {
    if (t.state === "pending" && t.next_attempt_at !== null) min = min === null ? t.next_attempt_at : Math.min(min, t.next_attempt_at);
  }
  return min;
}

const pkOf = (tenant: string) => `T#${tenant}`;
const skOf = (taskId: string) => `W#${taskId}`;

/** DynamoDB repository for watches. The client is passed in, never built here. */
export class WatchStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly opts: StoreOptions,
  ) {}

  /** Shard of a watch in the due index. */
  shardOf(w: Pick<Watch, "tenant" | "task_id">): string {
    const h = createHash("sha256").update(`${w.tenant}/${w.task_id}`).digest().readUInt32BE(0);
    return `S#${h % this.opts.dueShards}`;
  }

  /** Every due-index shard, for the tick to walk. */
  shards(): string[] {
    return Array.from({ length: this.opts.dueShards }, (_, i) => `S#${i}`);
  }

  private toItem(w: Watch, leaseUntil?: number): Record<string, unknown> {
    const item: Record<string, unknown> = {
      ...w,
      pk: pkOf(w.tenant),
      sk: skOf(w.task_id),
      created_key: `${w.created_at}#${w.task_id}`,
    };
    delete item.lease_until;
    if (!isTerminal(w.status)) {
      item.due_shard = this.shardOf(w);
      item.due_at = Date.parse(w.updated_at);
    } else {
      const due = nextDeliveryAt(w);
      if (due !== null) {
        item.due_shard = this.shardOf(w);
        item.due_at = due;
      }
      // Finished watches leave the table on their own after the retention.
      const from = Date.parse(w.finished_at ?? w.updated_at);
      item.expires_at = Math.floor(from / 1000) + this.opts.retentionDays * 86400;
    }
    if (leaseUntil !== undefined) item.lease_until = leaseUntil;
    return item;
  }

  private fromItem(item: Record<string, unknown>): StoredWatch {
    const parsed = watchSchema.safeParse(item);
    if (!parsed.success) {
      throw new StoreError(`stored watch ${String(item.sk)} is malformed: ${parsed.error.issues[0]?.message ?? ""}`);
    }
    return parsed.data;
  }

  /**
   * Store a new watch unless one exists for (tenant, task id).
   * @returns the existing watch when there was one
   */
  async create(w: Watch): Promise<{ created: true; watch: StoredWatch } | { created: false; existing: StoredWatch }> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: this.toItem(w),
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

  /** One watch, strongly consistent; null when the tenant has no such watch. */
  async get(tenant: string, taskId: string): Promise<StoredWatch | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.opts.tableName, Key: { pk: pkOf(tenant), sk: skOf(taskId) }, ConsistentRead: true }),
    );
    return out.Item ? this.fromItem(out.Item) : null;
  }

  /**
   * Replace a watch if nobody changed it since it was read at `w.version`.
   * @param leaseUntil epoch ms until which this writer owns the deliveries
   * @returns the stored watch (version + 1), or `conflict` if another writer won
   */
  async save(w: Watch, leaseUntil?: number): Promise<StoredWatch | "conflict"> {
    const next: Watch = { ...w, version: w.version + 1 };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.opts.tableName,
          Item: this.toItem(next, leaseUntil),
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
   * A tenant's watches, newest first.
   * @param cursor opaque, from a previous page's `nextCursor`
   */
  async list(
    tenant: string,
    q: { status?: string; limit: number; cursor?: string },
  ): Promise<{ items: StoredWatch[]; nextCursor: string | null }> {
    let startKey = q.cursor === undefined ? undefined : decodeCursor(q.cursor, pkOf(tenant));
    const items: StoredWatch[] = [];
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
      for (const it of out.Items ?? []) items.push(this.fromItem(it));
      startKey = out.LastEvaluatedKey ? cursorSchema.parse(out.LastEvaluatedKey) : undefined;
      if (!startKey) break;
    }
    return { items, nextCursor: startKey ? Buffer.from(JSON.stringify(startKey)).toString("base64url") : null };
  }

  /**
   * Watches with work due at or before `now` in one shard, oldest first.
   * Reads the index (eventually consistent): the version check on write is
   * what makes a stale read harmless.
   */
  async due(shard: string, now: number, limit: number): Promise<StoredWatch[]> {
    const out: StoredWatch[] = [];
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
          out.push(this.fromItem(it));
        } catch (err) {
          // One corrupt item must not stop every other watch from being polled.
          this.opts.onMalformed?.(`${String(it.pk)}/${String(it.sk)}`, err instanceof Error ? err.message : "unparsable");
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && out.length < limit);
    return out;
  }

  /** Cheap liveness probe for `GET /health`. */
  async ping(): Promise<void> {
    await this.db.send(
      new GetCommand({ TableName: this.opts.tableName, Key: { pk: "health", sk: "health" } }),
    );
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
