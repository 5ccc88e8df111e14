/**
 * The public face of a watch: what `GET /tasks/{task_id}` answers and what a
 * webhook's `data` carries, derived from the watch schema. Secrets (webhook
 * secrets, full target URLs, which for Slack are credentials) never leave
 * through here.
 */
import * as z from "./zod";
import { NotifyTarget } from "./target";
import { Outcome, outcomeOf, Watch } from "./watch";

/** A target as shown: the URL cut to scheme and host, no secret, times as ISO strings. */
export const TargetView = z.extend(z.pick(NotifyTarget, { id: true, type: true, state: true, attempts: true, last_error: true, delivered_at: true, attempts_log: true, subscription: true }), {
  /** Scheme and host only, e.g. `https://hooks.slack.com`. */
  url: z.string(),
  next_attempt_at: z.nullable(z.string()),
});
export type TargetView = z.infer<typeof TargetView>;

/** The stored watch minus tenant, secrets and bookkeeping, plus redacted targets. */
export const WatchView = z.extend(
  z.omit(Watch, { tenant: true, targets: true, not_found_since: true, event_id: true, version: true, lease_until: true, lists_beside: true }),
  { outcome: z.nullable(Outcome), notify: z.array(TargetView) },
);
export type WatchView = z.infer<typeof WatchView>;

/** Scheme and host (with a non-default port) of a URL; `invalid` if it does not parse. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "invalid";
  }
}

/** Project a stored watch to its public view. */
export function toView(w: Watch): WatchView {
  return {
    task_id: w.task_id,
    project_id: w.project_id,
    instance_id: w.instance_id,
    region: w.region,
    status: w.status,
    outcome: outcomeOf(w),
    task_type: w.task_type,
    created_at: w.created_at,
    updated_at: w.updated_at,
    finished_at: w.finished_at,
    deadline_at: w.deadline_at,
    history: w.history,
    result: w.result,
    last_error: w.last_error,
    labels: w.labels,
    ...(w.import_check ? { import_check: w.import_check } : {}),
    notify: w.targets.map((t) => ({
      id: t.id,
      type: t.type,
      // A bus ARN names no secret; every URL is cut to scheme and host.
      url: t.type === "eventbridge" ? t.url : redactUrl(t.url),
      state: t.state,
      attempts: t.attempts,
      last_error: t.last_error,
      next_attempt_at:
        t.state === "pending" && t.next_attempt_at !== null ? new Date(t.next_attempt_at).toISOString() : null,
      delivered_at: t.delivered_at,
      attempts_log: t.attempts_log,
      ...(t.subscription !== undefined ? { subscription: t.subscription } : {}),
    })),
  };
}
