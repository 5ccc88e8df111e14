/**
 * CloudWatch Embedded Metric Format: one JSON log line per poller invocation that
 * CloudWatch turns into metrics, with no API call and no extra permission.
 */
import type { LoopSummary } from "../app/poll-loop";

export const METRIC_NAMESPACE = "ApigTaskwatch";

/** The EMF line for one poller invocation's summary. */
export function tickMetricsLine(summary: LoopSummary, service: string, now: Date): string {
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
            { Name: "Polls", Unit: "Count" },
            { Name: "DeferredWatches", Unit: "Count" },
            { Name: "Transitions", Unit: "Count" },
            { Name: "WatchErrors", Unit: "Count" },
          ],
        },
      ],
    },
    Service: service,
    OldestDueAgeSeconds: summary.oldestDueAgeS,
    DueWatches: summary.watches,
    Polls: summary.polls,
    DeferredWatches: summary.deferred,
    Transitions: summary.transitions,
    WatchErrors: summary.errors,
  });
}
