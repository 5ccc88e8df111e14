/**
 * The watch: one schema, from which every layer takes its types (the stored
 * item and the API view are derived from it, see `store/item-codec.ts` and
 * `watch-view.ts`).
 *
 * Lifecycle (APIG states plus our own terminal states), driven by `lifecycle.ts`:
 *
 *   registered ─┬─> waiting ─> processing ─┬─> succeed     (APIG)
 *               │                          ├─> failed      (APIG)
 *               └──────────────────────────┼─> timed_out   (deadline passed)
 *                                          ├─> not_found   (404 APIG.3093 past the grace period)
 *                                          ├─> error       (400/403: the task can never be read)
 *                                          └─> cancelled   (DELETE by the user)
 *
 * `registered` is ours: a watch whose task APIG has not yet answered for.
 * A terminal watch never moves again. Every terminal state but `cancelled`
 * owes one delivery per notification target (the outbox, see `delivery.ts`).
 */
import * as z from "./zod";
import { ImportCheckSummary } from "./import-finding";
import { StoredLabels } from "./labels";
import { NotifyTarget } from "./target";
import type { TaskResult as TaskResultType } from "./task-result";
import { TaskResult } from "./task-result";

export const WATCH_STATUSES = [
  "registered",
  "waiting",
  "processing",
  "succeed",
  "failed",
  "timed_out",
  "not_found",
  "cancelled",
  "error",
] as const;
export const WatchStatus = z.enum(WATCH_STATUSES);
export type WatchStatus = z.infer<typeof WatchStatus>;

/** The states a watch is still followed in; every other one is terminal. */
const RUNNING: ReadonlySet<WatchStatus> = new Set<WatchStatus>(["registered", "waiting", "processing"]);

/** True for the states nothing moves a watch out of. */
export function isTerminal(status: WatchStatus): boolean {
  return !RUNNING.has(status);
}

export const TaskType = z.enum(["import_api", "export_api"]);
export type TaskType = z.infer<typeof TaskType>;

/** A region id: lowercase letters, digits and dashes (`eu-de`, `ap-southeast-1`). */
export const RegionId = z.string().check(z.regex(/^[a-z]{2}-[a-z0-9-]{1,24}$/, "must look like eu-de"));

/** The last problem met while polling, kept until a good answer clears it. */
export const WatchError = z.object({
  /** `APIG.9008`, `http_503`, `timeout`, ... */
  code: z.string(),
  message: z.string(),
  http_status: z.nullable(z.number()),
  /** The latest try that met this error (refreshed at most every 30 s while it repeats, see `lifecycle.ts`). */
  at: z.string(),
  /** The first try of the current streak of this error. */
  since: z.optional(z.string()),
});
export type WatchError = z.infer<typeof WatchError>;

export const HistoryEntry = z.object({ status: WatchStatus, at: z.string() });

/**
 * How a finished watch ended, as a pipeline needs it: `partial` is an import
 * APIG reports `succeed` while its result lists failures. `null` until terminal.
 */
export const Outcome = z.enum(["succeeded", "partial", "failed", "timed_out", "not_found", "error", "cancelled"]);
export type Outcome = z.infer<typeof Outcome>;

/** The outcome of a watch in `status` with `result`; pure. */
export function outcomeOf(w: { status: WatchStatus; result: TaskResultType | null }): Outcome | null {
  switch (w.status) {
    case "succeed":
      return w.result?.kind === "import" && w.result.failure_count > 0 ? "partial" : "succeeded";
    case "failed":
    case "timed_out":
    case "not_found":
    case "error":
    case "cancelled":
      return w.status;
    default:
      return null;
  }
}

/** One watch of one tenant on one APIG task. */
export const Watch = z.object({
  tenant: z.string(),
  task_id: z.string(),
  project_id: z.string(),
  instance_id: z.string(),
  region: z.string(),
  /** The OTC credential set it is polled with (the name, never a secret); absent on watches stored before sets: `default`. */
  credential_set: z.optional(z.string()),
  status: WatchStatus,
  task_type: z.nullable(TaskType),
  created_at: z.string(),
  updated_at: z.string(),
  finished_at: z.nullable(z.string()),
  deadline_at: z.string(),
  history: z.array(HistoryEntry),
  result: z.nullable(TaskResult),
  last_error: z.nullable(WatchError),
  /** When APIG first answered 404 APIG.3093 in the current streak. */
  not_found_since: z.nullable(z.string()),
  /** Null-prototype: any name is kept exactly (see `labels.ts`). */
  labels: StoredLabels,
  targets: z.array(NotifyTarget),
  /** Standard Webhooks `webhook-id` of the terminal event, same for every try. */
  event_id: z.nullable(z.string()),
  /** Optimistic-concurrency counter: every write is conditional on it. */
  version: z.int(),
  /**
   * Epoch ms until which a client is waiting on the watch (its reads say so):
   * polled at the young cadence until then. Absent when nobody waits.
   */
  waited_until: z.optional(z.number()),
  /** For a watch `POST /imports` created: what the import gate found (warnings only) and any conversion. */
  import_check: z.optional(ImportCheckSummary),
  /**
   * An import result's lists (`success`, `failure`, `ignore`) kept beside the
   * watch, compressed (`app/import-lists.ts`): the stored item carries them
   * empty, so every write of the watch stays small; read back for answers
   * and notifications. Absent when they are in the item itself.
   */
  lists_beside: z.optional(
    z.object({
      chunks: z.number(),
      /** The first 16 hex digits of the SHA-256 of the lists' JSON. */
      sha256: z.string(),
      size_bytes: z.number(),
    }),
  ),
  /** Epoch ms until which one writer owns the watch's deliveries (see `app/observe-and-deliver.ts`). */
  lease_until: z.optional(z.number()),
});
export type Watch = z.infer<typeof Watch>;
