/**
 * Watch <-> DynamoDB item. Item layout (one table, see `infra/table.json`):
 * - `pk` = `T#<tenant>`, `sk` = `W#<task_id>`: one watch per (tenant, task id).
 * - LSI `by_created` sorts a tenant's watches by `created_key` for listing.
 * - GSI `due` (`due_shard`, `due_at`) is sparse: only watches with work left
 *   (unfinished, or finished with deliveries owed) carry its keys, so a tick
 *   Queries exactly its work and never Scans.
 * - `expires_at` (DynamoDB TTL) removes finished watches after the retention.
 */
import { createHash } from "node:crypto";
import { nextDeliveryAt } from "../domain/delivery";
import { labelPairs } from "../domain/labels";
import { isTerminal, Watch } from "../domain/watch";

export const INDEX_BY_CREATED = "by_created";
export const INDEX_DUE = "due";

export const pkOf = (tenant: string) => `T#${tenant}`;
export const skOf = (taskId: string) => `W#${taskId}`;

/** A stored item that does not parse as a watch. */
export class MalformedItemError extends Error {
  override name = "MalformedItemError";
}

export interface CodecOptions {
  /** Number of due-index partitions; a watch's shard is a hash of its key. */
  dueShards: number;
  /** Days a finished watch is kept (DynamoDB TTL). */
  retentionDays: number;
}

/** Shard of a watch in the due index. */
export function shardOf(w: Pick<Watch, "tenant" | "task_id">, dueShards: number): string {
  const h = createHash("sha256").update(`${w.tenant}/${w.task_id}`).digest().readUInt32BE(0);
  return `S#${h % dueShards}`;
}

/** The item to write for a watch; `leaseUntil` replaces any lease it carried. */
export function toItem(w: Watch, opts: CodecOptions, leaseUntil?: number): Record<string, unknown> {
  const { lease_until: _dropped, ...rest } = w;
  const item: Record<string, unknown> = {
    ...rest,
    pk: pkOf(w.tenant),
    sk: skOf(w.task_id),
    created_key: `${w.created_at}#${w.task_id}`,
    // Pairs, not a map: the marshaller mishandles `constructor` and `__proto__` names.
    labels: labelPairs(w.labels),
  };
  if (!isTerminal(w.status)) {
    item.due_shard = shardOf(w, opts.dueShards);
    item.due_at = Date.parse(w.updated_at);
  } else {
    const due = nextDeliveryAt(w);
    if (due !== null) {
      item.due_shard = shardOf(w, opts.dueShards);
      item.due_at = due;
    }
    // Finished watches leave the table on their own after the retention.
    const from = Date.parse(w.finished_at ?? w.updated_at);
    item.expires_at = Math.floor(from / 1000) + opts.retentionDays * 86400;
  }
  if (leaseUntil !== undefined) item.lease_until = leaseUntil;
  return item;
}

/** Stored items are outside data too: parse, never cast. */
export function fromItem(item: Record<string, unknown>): Watch {
  const parsed = Watch.safeParse(item);
  if (!parsed.success) {
    throw new MalformedItemError(`stored watch ${String(item.sk)} is malformed: ${parsed.error.issues[0]?.message ?? ""}`);
  }
  return parsed.data;
}
