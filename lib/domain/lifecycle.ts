/**
 * The pure state machine of a watch: (watch, event, now) -> next watch,
 * whether it changed, and the effects to run once the change is stored.
 */
import { createHash } from "node:crypto";
import type { NotifyTarget } from "./target";
import { parseTaskResult } from "./task-result";
import { isTerminal, type TaskType, type Watch, type WatchError, type WatchStatus } from "./watch";

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

/** Deterministic so every poller and every retry of one event agree on it. */
export function eventIdFor(w: Pick<Watch, "tenant" | "task_id">, status: WatchStatus): string {
  return "msg_" + createHash("sha256").update(`${w.tenant}\n${w.task_id}\n${status}`).digest("hex").slice(0, 32);
}

const unchanged = (w: Watch): Transition => ({ next: w, changed: false, effects: [] });

function sameError(a: WatchError | null, b: Omit<WatchError, "at" | "since">): boolean {
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

/**
 * How stale `last_error.at` may get while the same error repeats. `at` is
 * the latest try, but rewriting the watch on every poll of an error streak
 * (every 2 s for a waited watch) would cost a write each time: it is
 * refreshed once this old, and `since` keeps when the streak began.
 */
export const ERROR_AT_REFRESH_MS = 30_000;

/** A retryable problem: remember it, with when it began and (within {@link ERROR_AT_REFRESH_MS}) when it was last seen. */
function recordError(watch: Watch, at: string, pastDeadline: boolean, err: Omit<WatchError, "at" | "since">): Transition {
  const prev = watch.last_error;
  const since = prev !== null && sameError(prev, err) ? (prev.since ?? prev.at) : at;
  if (pastDeadline) return finish(watch, "timed_out", at, { last_error: { ...err, at, since } });
  if (prev !== null && sameError(prev, err) && Date.parse(at) - Date.parse(prev.at) < ERROR_AT_REFRESH_MS) return unchanged(watch);
  return { next: { ...watch, last_error: { ...err, at, since }, updated_at: at }, changed: true, effects: [] };
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

