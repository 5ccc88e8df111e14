/**
 * CloudWatch Embedded Metric Format: one JSON log line per tick that
 * CloudWatch turns into metrics, with no API call and no extra permission.
 */
import type { TickSummary } from "../app/tick";

export const METRIC_NAMESPACE = "ApigTaskwatch";

/** The EMF line for one tick's summary. */
export function tickMetricsLine(summary: TickSummary, service: string, now: Date): string {
  return JSON.stringify({
    _aws: {
      Timestamp: now.getTime(),
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: [["Service"]],
          Metrics: [
            { Name: "OldestDueAgeSeconds", Unit: "Seconds" },
            { Name: "DueWatches", Unit: "Count" },
            { Name: "DeferredWatches", Unit: "Count" },
            { Name: "Transitions", Unit: "Count" },
            { Name: "WatchErrors", Unit: "Count" },
          ],
        },
      ],
    },
    Service: service,
    OldestDueAgeSeconds: summary.oldestDueAgeS,
    DueWatches: summary.due,
    DeferredWatches: summary.deferred,
    Transitions: summary.transitioned,
    WatchErrors: summary.errors,
  });
}
