/**
 * Delivery bookkeeping of the outbox on a watch, pure: what one try means for
 * a target (delivered, another try later, dead) and when a finished watch next
 * owes a delivery.
 */
import { ATTEMPTS_LOGGED, type AttemptLogEntry, type NotifyTarget } from "./target";
import { isTerminal, type Watch } from "./watch";

/**
 * The result of one notification try. `http_status` is the receiver's answer
 * on a failed try (absent when none came); `duration_ms` is filled in by the
 * caller that timed the try, for the attempts log. `receiver_body` is the
 * start of what the receiver answered, for `POST /targets/test`.
 */
export type SendOutcome = (
  | { ok: true; status: number }
  | { ok: false; final: boolean; error: string; retryAfterMs?: number; http_status?: number; receiver_body?: string }
) & { duration_ms?: number };

/** The attempts-log line of one try that ended at `now`. */
function logEntry(outcome: SendOutcome, now: Date): AttemptLogEntry {
  const duration = Math.max(0, Math.round(outcome.duration_ms ?? 0));
  return {
    at: new Date(now.getTime() - duration).toISOString(),
    http_status: outcome.ok ? outcome.status : (outcome.http_status ?? null),
    duration_ms: duration,
    error: outcome.ok ? null : outcome.error,
  };
}

/** Epoch ms of the earliest owed delivery of a terminal watch, or null when nothing is owed. */
export function nextDeliveryAt(w: Watch): number | null {
  if (!isTerminal(w.status) || w.status === "cancelled") return null;
  let min: number | null = null;
  for (const t of w.targets) {
    if (t.state === "pending" && t.next_attempt_at !== null) min = min === null ? t.next_attempt_at : Math.min(min, t.next_attempt_at);
  }
  return min;
}

/**
 * What one try means for a target: delivered, another try later (with the
 * schedule's delay, jittered, never sooner than `Retry-After`), or dead.
 * Pure; `random` in [0, 1).
 */
export function afterTry(
  target: NotifyTarget,
  outcome: SendOutcome,
  now: Date,
  retryScheduleS: readonly number[],
  random: () => number,
): NotifyTarget {
  const attempts = target.attempts + 1;
  const attempts_log = [...target.attempts_log, logEntry(outcome, now)].slice(-ATTEMPTS_LOGGED);
  if (outcome.ok) {
    return { ...target, attempts, attempts_log, state: "delivered", last_error: null, next_attempt_at: null, delivered_at: now.toISOString() };
  }
  const delayS = retryScheduleS[attempts - 1];
  if (outcome.final || delayS === undefined) {
    return { ...target, attempts, attempts_log, state: "dead", last_error: outcome.error, next_attempt_at: null };
  }
  // +-20 % jitter keeps many watches that finished together from retrying in lockstep.
  const jittered = delayS * 1000 * (0.8 + 0.4 * random());
  const delayMs = Math.max(jittered, outcome.retryAfterMs ?? 0);
  return { ...target, attempts, attempts_log, state: "pending", last_error: outcome.error, next_attempt_at: now.getTime() + Math.round(delayMs) };
}

/**
 * The results of one round of tries, laid onto a fresher copy of the targets
 * (another writer, a redelivery say, saved the watch while the tries ran). A
 * target nobody else touched takes its tried state; one that was changed
 * meanwhile keeps that change and only gains the log entry of this try, so
 * no try is lost and none is repeated. Pure.
 * @param before the targets as they were when the round started
 * @param after the same targets after the round (`afterTry` on each one tried)
 */
export function applyTries(current: readonly NotifyTarget[], before: readonly NotifyTarget[], after: readonly NotifyTarget[]): NotifyTarget[] {
  return current.map((t) => {
    const k = before.findIndex((b) => b.id === t.id);
    if (k < 0 || after[k] === before[k]) return t;
    if (JSON.stringify(t) === JSON.stringify(before[k])) return after[k]!;
    const tried = after[k]!.attempts_log.at(-1);
    if (tried === undefined) return t;
    return { ...t, attempts_log: [...t.attempts_log, tried].slice(-ATTEMPTS_LOGGED) };
  });
}
