/**
 * The metric catalogue: every name and dimension the use cases report, in
 * one place, because the alarms and the dashboard in serverless.yml are
 * written against exactly these (a test holds the two together).
 */
import type { ApigObservation } from "../domain/lifecycle";
import type { NotifyTarget } from "../domain/target";
import type { Watch } from "../domain/watch";
import type { Metrics } from "./ports";
import type { LoopSummary } from "./poll-loop";

/** CloudWatch namespace of every custom metric; each value also carries the `service` dimension. */
export const METRIC_NAMESPACE = "ApigTaskwatch";

/**
 * Metric names. Dimensions beyond `service`:
 * - `Polls`: `region` — APIG task queries made.
 * - `ApigFaults`: `category` and `region` — APIG queries that got no status (see {@link ApigFaultCategory}).
 * - `Transitions`, `DueWatches`, `DeferredWatches`, `WatchErrors`, `OldestDueAgeSeconds`: none — per poller invocation
 *   (`DueWatches`: the watches it followed).
 * - `Deliveries`: `result` (`delivered`, `retry`, `dead`) — notification tries.
 * - `DetectionLatency`: none — milliseconds from the poll that saw the task end to the delivered notification.
 * - `WorkersFailedToStart`: none — fan-out worker invocations Lambda did not accept after every retry (0 when none).
 *
 * A value with a `region` is also published without it, so one alarm sees every region.
 */
export const METRIC = {
  polls: "Polls",
  apigFaults: "ApigFaults",
  transitions: "Transitions",
  dueWatches: "DueWatches",
  deferredWatches: "DeferredWatches",
  watchErrors: "WatchErrors",
  oldestDueAge: "OldestDueAgeSeconds",
  deliveries: "Deliveries",
  detectionLatency: "DetectionLatency",
  workersFailedToStart: "WorkersFailedToStart",
} as const;

/**
 * Why an APIG query got no status, coarse enough to alarm on:
 * - `auth`: APIG answered 401, or IAM refused the credentials (wrong or rotated keys);
 * - `unreachable`: no answer at all (DNS, connection refused or reset, timeout; IAM unreachable);
 * - `throttled`: 429 or `APIG.9008`, or IAM throttling;
 * - `server`: another 5xx;
 * - `not_found`: 404 `APIG.3093` (often a task id from another region or instance);
 * - `rejected`: 400 or 403, the task can never be watched;
 * - `other`: an answer we could not read.
 */
export type ApigFaultCategory = "auth" | "unreachable" | "throttled" | "server" | "not_found" | "rejected" | "other";

const AUTH_CODES = new Set(["APIG.1000", "APIG.1001", "APIG.1002", "APIC.7101", "auth_failed", "iam_unauthorized"]);

/** The fault category of a failed observation. Pure. */
export function apigFaultCategory(o: Extract<ApigObservation, { ok: false }>): ApigFaultCategory {
  if (o.category === "not_found") return "not_found";
  if (o.category === "permanent") return "rejected";
  if (o.http_status === 401 || AUTH_CODES.has(o.code)) return "auth";
  if (o.http_status === 429 || o.code === "APIG.9008" || o.code === "iam_throttled") return "throttled";
  if (o.http_status === null) return o.code === "bad_response" || o.code === "response_too_large" ? "other" : "unreachable";
  if (o.http_status >= 500) return "server";
  return "other";
}

/** One APIG query and, when it got no status, its fault. */
export function recordPoll(metrics: Metrics, region: string, o: ApigObservation): void {
  metrics.count(METRIC.polls, { region });
  if (!o.ok) metrics.count(METRIC.apigFaults, { category: apigFaultCategory(o), region });
}

/**
 * One notification try, by its result; a delivered one also reports how long
 * after the poller saw the task end it left (the number users care about).
 */
export function recordDelivery(metrics: Metrics, watch: Watch, after: NotifyTarget, now: Date): void {
  const result = after.state === "delivered" ? "delivered" : after.state === "dead" ? "dead" : "retry";
  metrics.count(METRIC.deliveries, { result });
  if (result === "delivered" && watch.finished_at !== null) {
    metrics.observe(METRIC.detectionLatency, Math.max(0, now.getTime() - Date.parse(watch.finished_at)), "Milliseconds");
  }
}

/** A poller invocation's summary: work followed, done, left over, and how far behind the poller is. */
export function recordTick(metrics: Metrics, s: LoopSummary & { workersFailed?: number }): void {
  metrics.count(METRIC.transitions, {}, s.transitions);
  metrics.count(METRIC.dueWatches, {}, s.watches);
  metrics.count(METRIC.deferredWatches, {}, s.deferred);
  metrics.count(METRIC.watchErrors, {}, s.errors);
  metrics.observe(METRIC.oldestDueAge, s.oldestDueAgeS, "Seconds");
  metrics.count(METRIC.workersFailedToStart, {}, s.workersFailed ?? 0);
}
