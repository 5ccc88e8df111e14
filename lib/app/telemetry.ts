/**
 * The metric catalogue: every name and dimension the use cases report, in
 * one place, because the alarms and the dashboard in serverless.yml are
 * written against exactly these (a test holds the two together).
 */
import { type ApigFault, faultOf } from "../domain/apig-fault";
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
 * - `ApigFaults`: `category` and `region` — APIG queries that got no status (see `domain/apig-fault.ts`).
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

/** The fault category of a failed observation (see `domain/apig-fault.ts`). */
export type ApigFaultCategory = ApigFault;

/** One APIG query and, when it got no status, its fault. */
export function recordPoll(metrics: Metrics, region: string, o: ApigObservation): void {
  metrics.count(METRIC.polls, { region });
  const fault = faultOf(o);
  if (fault !== null) metrics.count(METRIC.apigFaults, { category: fault, region });
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
