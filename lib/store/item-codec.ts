/**
 * Watch <-> DynamoDB item. Item layout (one table, see `infra/table.json`):
 * - `pk` = `T#<tenant>`, `sk` = `W#<task_id>`: one watch per (tenant, task id).
 * - GSI `by_created` (`pk`, `created_key`) sorts a tenant's watches for
 *   listing. A GSI, not an LSI: an LSI would cap a tenant at 10 GB and keep
 *   DynamoDB from splitting a busy tenant's partition, and could never be
 *   changed after the first deploy. It projects keys only: a listing fetches
 *   the items from the table (strongly consistent), so a write that does not
 *   create or delete a watch costs the index nothing.
 * - GSI `due` (`due_shard`, `due_at`) is sparse: only watches with work left
 *   (unfinished, or finished with deliveries owed) carry its keys, so the
 *   poller Queries exactly its work and never Scans. It projects what a poll
 *   needs ({@link DUE_PROJECTION}: the task's address, which never changes,
 *   the state the last answer left, the credential set and a waiting
 *   client's mark), so a poll
 *   reads no item; only a write that changes that state (a transition, a new
 *   fault, a waited mark) costs the index a write. `due_at` is the
 *   registration time while a watch runs (it does not move on transitions,
 *   and a Query for `due_at > t` finds the watches registered since t), the
 *   time a waiting client last marked it (the running poller's next pickup
 *   sees the entry move and polls it at the young cadence), and the time of
 *   the next retry once a delivery failed.
 * - `expires_at` (DynamoDB TTL) removes finished watches after the retention.
 * - An export's document lives beside its watch: `pk` the watch's, `sk` =
 *   `E#<task_id>#0000`, ... (`store/export-repository.ts`), with the watch's
 *   `expires_at` and no index keys. So do an import result's lists when they
 *   are more than a few entries (`R#<task_id>#0000`, `lists_beside`): the
 *   watch item stays under 1 KB, which every later write of it is billed on.
 */
import { MalformedItemError } from "../domain/errors";
export { MalformedItemError };
import { createHash } from "node:crypto";
import type { DueKey, PollFacts } from "../app/ports";
import { WAITED_FOR_MS } from "../domain/cadence";
import * as z from "../domain/zod";
import { nextDeliveryAt } from "../domain/delivery";
import { labelPairs } from "../domain/labels";
import { isTerminal, Watch } from "../domain/watch";

export const INDEX_BY_CREATED = "by_created";
export const INDEX_DUE = "due";

/** The item attributes the due index projects (`infra/table.json` lists the same; a test holds them together). */
export const DUE_PROJECTION = [
  "project_id",
  "instance_id",
  "region",
  "created_at",
  "deadline_at",
  "status",
  "task_type",
  "last_error",
  "not_found_since",
  "waited_until",
  "credential_set",
] as const;

const projected = z.pick(Watch, {
  project_id: true,
  instance_id: true,
  region: true,
  created_at: true,
  deadline_at: true,
  status: true,
  task_type: true,
  last_error: true,
  not_found_since: true,
  waited_until: true,
  credential_set: true,
});

export const pkOf = (tenant: string) => `T#${tenant}`;
export const skOf = (taskId: string) => `W#${taskId}`;

/**
 * The largest `DUE_SHARDS` allowed. Shard ids up to it are swept for entries
 * left behind when the count is lowered, so it may be raised but never lowered.
 */
export const MAX_DUE_SHARDS = 64;

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

/**
 * The watch's position in the due index, or null when it has no work left.
 * A first delivery keeps the registration time: the writer that ended the
 * watch delivers at once, and if it dies the next full read of the index
 * finds it. Only a retry or a redelivery moves the key, to its time, so the
 * running poller's next pickup sees it.
 */
export function dueAt(w: Watch): number | null {
  const created = Date.parse(w.created_at);
  if (!isTerminal(w.status)) return w.waited_until === undefined ? created : Math.max(created, w.waited_until - WAITED_FOR_MS);
  const next = nextDeliveryAt(w);
  if (next === null) return null;
  // Tried before: a retry, or a redelivery (which starts the count again but keeps the log).
  const retrying = w.targets.some((t) => t.state === "pending" && (t.attempts > 0 || t.attempts_log.length > 0));
  return retrying ? next : created;
}

/** The `expires_at` (epoch seconds) of a finished watch, and of the export chunks stored beside it. */
export function expiresAtOf(w: Pick<Watch, "finished_at" | "updated_at">, retentionDays: number): number {
  return Math.floor(Date.parse(w.finished_at ?? w.updated_at) / 1000) + retentionDays * 86400;
}

/** The item to write for a watch; `leaseUntil` replaces any lease it carried. */
export function toItem(w: Watch, opts: CodecOptions, leaseUntil?: number): Record<string, unknown> {
  // The tenant and task id are the keys' own (`fromItem` takes them back), and a null is absence: bytes every write pays for.
  const { lease_until: _dropped, tenant: _t, task_id: _i, ...rest } = w;
  for (const k of NULL_WHEN_ABSENT) if (rest[k] === null) delete rest[k];
  const item: Record<string, unknown> = {
    ...rest,
    // Lists kept beside the watch are never written into it again (a copy read back for an answer has them).
    ...(w.lists_beside && w.result?.kind === "import" ? { result: { ...w.result, success: [], failure: [], ignore: [] } } : {}),
    pk: pkOf(w.tenant),
    sk: skOf(w.task_id),
    created_key: `${w.created_at}#${w.task_id}`,
    // Pairs, not a map: the marshaller mishandles `constructor` and `__proto__` names.
    labels: labelPairs(w.labels),
  };
  const due = dueAt(w);
  if (due !== null) {
    item.due_shard = shardOf(w, opts.dueShards);
    item.due_at = due;
  }
  // Finished watches leave the table on their own after the retention.
  if (isTerminal(w.status)) item.expires_at = expiresAtOf(w, opts.retentionDays);
  if (leaseUntil !== undefined) item.lease_until = leaseUntil;
  return item;
}

/** Nullable attributes an item leaves out when null (items written before carry them as NULL). */
const NULL_WHEN_ABSENT = ["last_error", "not_found_since"] as const;

/** An item with what the codec leaves out put back: the tenant and task id from the keys, absent nulls. */
function completed(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...item };
  for (const k of NULL_WHEN_ABSENT) if (out[k] === undefined) out[k] = null;
  if (out.tenant === undefined && typeof item.pk === "string" && item.pk.startsWith("T#")) out.tenant = item.pk.slice(2);
  if (out.task_id === undefined && typeof item.sk === "string" && item.sk.startsWith("W#")) out.task_id = item.sk.slice(2);
  return out;
}

/** Stored items are outside data too: parse, never cast. */
export function fromItem(item: Record<string, unknown>): Watch {
  const parsed = Watch.safeParse(completed(item));
  if (!parsed.success) {
    throw new MalformedItemError(`stored watch ${String(item.sk)} is malformed: ${parsed.error.issues[0]?.message ?? ""}`);
  }
  return parsed.data;
}

/** The watch a due-index entry (keys only) points at, or null for an entry that is not ours. */
export function dueKeyOf(item: Record<string, unknown>): DueKey | null {
  const { pk, sk, due_at } = item;
  if (typeof pk !== "string" || typeof sk !== "string" || typeof due_at !== "number") return null;
  if (!pk.startsWith("T#") || !sk.startsWith("W#")) return null;
  const key: DueKey = { tenant: pk.slice(2), taskId: sk.slice(2), dueAt: due_at };
  const poll = pollFactsOf(item);
  return poll ? { ...key, poll } : key;
}

/** The poll's facts an index entry carries, or null (an entry from before the projection: the poller reads the item). */
export function pollFactsOf(item: Record<string, unknown>): PollFacts | null {
  const p = projected.safeParse(completed(item));
  if (!p.success) return null;
  const createdAt = Date.parse(p.data.created_at);
  const deadlineAt = Date.parse(p.data.deadline_at);
  if (!Number.isFinite(createdAt) || !Number.isFinite(deadlineAt)) return null;
  const { status, task_type, last_error, not_found_since } = p.data;
  return {
    projectId: p.data.project_id,
    instanceId: p.data.instance_id,
    region: p.data.region,
    createdAt,
    deadlineAt,
    seen: { status, task_type, last_error, not_found_since },
    waitedUntil: p.data.waited_until ?? null,
    credentialSet: p.data.credential_set ?? null,
  };
}
