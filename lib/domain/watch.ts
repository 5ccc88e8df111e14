/**
 * The watch model and its pure state machine.
 *
 * Lifecycle (APIG states plus our own terminal states):
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
 * owes one delivery per notification target (the outbox, see `deliveries.ts`).
 */
import { createHash } from "node:crypto";
import { parseTaskResult, type TaskResult } from "./task-result";

export const WatchStatus = {
  registered: "registered",
  waiting: "waiting",
  processing: "processing",
  succeed: "succeed",
  failed: "failed",
  timed_out: "timed_out",
  not_found: "not_found",
  cancelled: "cancelled",
  error: "error",
} as const;
export type WatchStatus = (typeof WatchStatus)[keyof typeof WatchStatus];

export const WATCH_STATUSES = Object.values(WatchStatus) as [WatchStatus, ...WatchStatus[]];

const TERMINAL: ReadonlySet<WatchStatus> = new Set<WatchStatus>([
  "succeed",
  "failed",
  "timed_out",
  "not_found",
  "cancelled",
  "error",
]);

/** True for the states nothing moves a watch out of. */
export function isTerminal(status: WatchStatus): boolean {
  return TERMINAL.has(status);
}

export type TaskType = "import_api" | "export_api";

/** Delivery state of one notification target. `skipped` when the watch was cancelled. */
export type DeliveryState = "pending" | "delivered" | "dead" | "skipped";

export interface NotifyTarget {
  /** Stable per watch: `t0`, `t1`, ... */
  id: string;
  type: "slack" | "webhook";
  /** Full URL; never shown by the API (Slack URLs are secrets too). */
  url: string;
  /** `whsec_...`, webhook targets only; never shown by the API. */
  secret?: string;
  state: DeliveryState;
  attempts: number;
  last_error: string | null;
  /** Epoch ms of the next try while `pending` on a terminal watch. */
  next_attempt_at: number | null;
  delivered_at: string | null;
}

export interface WatchError {
  /** `APIG.9008`, `http_503`, `timeout`, ... */
  code: string;
  message: string;
  http_status: number | null;
  at: string;
}

export interface Watch {
  tenant: string;
  task_id: string;
  project_id: string;
  instance_id: string;
  region: string;
  status: WatchStatus;
  task_type: TaskType | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  deadline_at: string;
  history: Array<{ status: WatchStatus; at: string }>;
  result: TaskResult | null;
  last_error: WatchError | null;
  /** When APIG first answered 404 APIG.3093 in the current streak. */
  not_found_since: string | null;
  labels: Record<string, string>;
  targets: NotifyTarget[];
  /** Standard Webhooks `webhook-id` of the terminal event, same for every try. */
  event_id: string | null;
  /** Optimistic-concurrency counter: every write is conditional on it. */
  version: number;
}

/** What one APIG query told us, already classified (see `apig-client.ts`). */
export type ApigObservation =
  | { ok: true; status: string; task_type: string | null; task_result: string }
  | {
      ok: false;
      /** not_found: 404 APIG.3093; permanent: 400/403; transient: everything retryable. */
      category: "not_found" | "permanent" | "transient";
      code: string;
      message: string;
      http_status: number | null;
    };

export type WatchEvent = { type: "observed"; observation: ApigObservation } | { type: "cancel" };

export type Effect = { type: "deliver" };

export interface TransitionRules {
  notFoundGraceMs: number;
}

export interface Transition {
  next: Watch;
  changed: boolean;
  effects: Effect[];
}

/** `succeeded` has been seen in the wild; the documented value is `succeed`. */
export function normalizeApigStatus(s: string): WatchStatus | null {
  const v = s.trim().toLowerCase();
  if (v === "succeeded" || v === "success") return "succeed";
  if (v === "waiting" || v === "processing" || v === "succeed" || v === "failed") return v;
  return null;
}

function normalizeTaskType(t: string | null): TaskType | null {
  return t === "import_api" || t === "export_api" ? t : null;
}

/** Deterministic so every tick and every retry of one event agree on it. */
export function eventIdFor(w: Pick<Watch, "tenant" | "task_id">, status: WatchStatus): string {
  return "msg_" + createHash("sha256").update(`${w.tenant}\n${w.task_id}\n${status}`).digest("hex").slice(0, 32);
}

const unchanged = (w: Watch): Transition => ({ next: w, changed: false, effects: [] });

function sameError(a: WatchError | null, b: Omit<WatchError, "at">): boolean {
  return a !== null && a.code === b.code && a.http_status === b.http_status;
}

/**
 * The state machine: (watch, event, now) -> next watch, whether it changed and
 * which effects to run once the change is stored. Pure: no I/O, no clock.
 * An event that changes nothing returns `changed: false` and the same object,
 * which is what lets a poll with no news skip the write.
 */
export function transition(watch: Watch, event: WatchEvent, now: Date, rules: TransitionRules): Transition {
  if (isTerminal(watch.status)) return unchanged(watch);
  const at = now.toISOString();

  if (event.type === "cancel") return finish(watch, "cancelled", at, {});

  const obs = event.observation;
  const pastDeadline = now.getTime() >= Date.parse(watch.deadline_at);

  if (obs.ok) {
    const status = normalizeApigStatus(obs.status);
    if (status === null) {
      return recordError(watch, at, pastDeadline, {
        code: "unexpected_status",
        message: `APIG answered unknown task_status ${JSON.stringify(obs.status.slice(0, 64))}`,
        http_status: 200,
      });
    }
    const taskType = normalizeTaskType(obs.task_type) ?? watch.task_type;
    if (status === "succeed" || status === "failed") {
      return finish(watch, status, at, { task_type: taskType, result: parseTaskResult(obs.task_result, taskType) });
    }
    // A task still running past its deadline is what timed_out means.
    if (pastDeadline) return finish(watch, "timed_out", at, { task_type: taskType });
    if (
      status === watch.status &&
      taskType === watch.task_type &&
      watch.last_error === null &&
      watch.not_found_since === null
    ) {
      return unchanged(watch);
    }
    const moved = status !== watch.status;
    return {
      next: {
        ...watch,
        status,
        task_type: taskType,
        last_error: null,
        not_found_since: null,
        updated_at: at,
        history: moved ? [...watch.history, { status, at }] : watch.history,
      },
      changed: true,
      effects: [],
    };
  }

  const err = { code: obs.code, message: obs.message, http_status: obs.http_status };
  if (obs.category === "permanent") return finish(watch, "error", at, { last_error: { ...err, at } });
  if (obs.category === "not_found") {
    if (watch.not_found_since !== null) {
      const waited = now.getTime() - Date.parse(watch.not_found_since);
      if (waited >= rules.notFoundGraceMs) return finish(watch, "not_found", at, { last_error: { ...err, at } });
    } else if (!pastDeadline) {
      return {
        next: { ...watch, not_found_since: at, last_error: { ...err, at }, updated_at: at },
        changed: true,
        effects: [],
      };
    }
  }
  return recordError(watch, at, pastDeadline, err);
}

/** A retryable problem: remember it once, do not rewrite it on every poll. */
function recordError(watch: Watch, at: string, pastDeadline: boolean, err: Omit<WatchError, "at">): Transition {
  if (pastDeadline) return finish(watch, "timed_out", at, { last_error: { ...err, at } });
  if (sameError(watch.last_error, err)) return unchanged(watch);
  return { next: { ...watch, last_error: { ...err, at }, updated_at: at }, changed: true, effects: [] };
}

function finish(watch: Watch, status: WatchStatus, at: string, patch: Partial<Watch>): Transition {
  const cancelled = status === "cancelled";
  const targets = watch.targets.map<NotifyTarget>((t) => ({
    ...t,
    state: cancelled ? "skipped" : "pending",
    next_attempt_at: cancelled ? null : Date.parse(at),
  }));
  const next: Watch = {
    ...watch,
    ...patch,
    status,
    updated_at: at,
    finished_at: at,
    history: [...watch.history, { status, at }],
    targets,
    event_id: cancelled ? null : eventIdFor(watch, status),
  };
  return { next, changed: true, effects: cancelled || targets.length === 0 ? [] : [{ type: "deliver" }] };
}

/** Shape of the retry schedule for transient APIG faults. */
export interface BackoffRules {
  /** The poller's tick interval: the smallest delay and the width of a poll window. */
  tickMs: number;
  /** Longest delay between two polls of a failing task. */
  capMs: number;
}

/** Deterministic number in [0, 1) from a string, for jitter every tick agrees on. */
function unitHash(s: string): number {
  return createHash("sha256").update(s).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * Whether a watch should be polled in the tick that runs at `now`.
 *
 * A watch whose last poll met a transient fault (throttling, 5xx, timeout)
 * backs off with capped exponential delays and full jitter: poll k happens at
 * a jittered point of the k-th interval, the intervals doubling from one tick
 * up to `capMs`, then staying at `capMs`. The jitter is derived from the task
 * id, the fault's time and k, so every tick computes the same schedule without
 * anything being written: a tick polls when one of those points falls into its
 * window (now - tick, now]. Repeated identical faults therefore cost no writes;
 * a missed window only delays the next poll.
 */
export function shouldPoll(w: Watch, now: Date, rules: BackoffRules): boolean {
  const e = w.last_error;
  if (isTerminal(w.status)) return false;
  if (e === null || e.code === "APIG.3093") return true;
  const tick = Math.max(1, rules.tickMs);
  const cap = Math.max(tick, rules.capMs);
  const t = now.getTime();
  const inWindow = (p: number) => p <= t && p > t - tick;
  const point = (from: number, width: number, k: number) =>
    from + Math.max(Math.min(tick, width), unitHash(`${w.task_id}/${e.at}/${k}`) * width);
  // Growing intervals: [start, start+tick), [.., +2 tick), ... until the cap.
  let from = Date.parse(e.at);
  let k = 0;
  for (let width = tick; width < cap; width *= 2, k++) {
    if (t < from) return false;
    if (inWindow(point(from, width, k))) return true;
    from += width;
  }
  if (t < from) return false;
  // Then fixed intervals of `cap`: O(1) however long the fault lasts.
  const j = Math.floor((t - from) / cap);
  return [j, j - 1].some((i) => i >= 0 && inWindow(point(from + i * cap, cap, k + i)));
}
