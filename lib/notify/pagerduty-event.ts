/**
 * Formats a finished watch as a PagerDuty Events API v2 `enqueue` event:
 * `trigger` (severity `error`, `warning` for a partial import) or `resolve`
 * (see `pagerDutyAction`), within PagerDuty's 512 KB event limit.
 */
import { type NotifyTarget, pagerDutyAction } from "../domain/target";
import type { WatchView } from "../domain/watch-view";
import { cutText, DETAIL, fitting, messageFacts, oneLine, summaryLine } from "./message-facts";

/** PagerDuty refuses an event over 512 KB. */
export const PAGERDUTY_MAX_BYTES = 512 * 1024;
/** `payload.summary` is cut at 1024 characters by PagerDuty. */
const SUMMARY_CHARS = 1024;

export type PagerDutyEvent =
  | {
      routing_key: string;
      event_action: "trigger";
      dedup_key: string;
      client: string;
      payload: {
        summary: string;
        source: string;
        severity: "critical" | "error" | "warning" | "info";
        timestamp: string;
        component: string;
        group: string;
        class: string;
        custom_details: Record<string, unknown>;
      };
      /** A large export's download link. */
      links?: Array<{ href: string; text: string }>;
    }
  | { routing_key: string; event_action: "resolve"; dedup_key: string };

/**
 * The event a PagerDuty target sends for this watch, or null when it sends nothing.
 * @param eventId the watch's event id: the dedup key of a target without `dedup_label`
 * @param opts.test a set-up test: an `info` trigger under its own key
 */
export function buildPagerDutyEvent(
  target: Pick<NotifyTarget, "routing_key" | "dedup_key">,
  view: WatchView,
  eventId: string,
  opts: { now?: Date; test?: boolean } = {},
): PagerDutyEvent | null {
  const routingKey = target.routing_key ?? "";
  const action = opts.test ? "trigger" : pagerDutyAction(view.outcome, target.dedup_key);
  if (action === null) return null;
  const dedupKey = opts.test ? eventId : (target.dedup_key ?? eventId);
  if (action === "resolve") return { routing_key: routingKey, event_action: "resolve", dedup_key: dedupKey };
  const f = messageFacts(view, opts.now);
  return fitting(PAGERDUTY_MAX_BYTES, DETAIL.length, (level) => {
    const d = DETAIL[level]!;
    const details: Record<string, unknown> = { outcome: view.outcome, status: view.status };
    for (const x of f.fields) details[x.label.toLowerCase().replace(/ /g, "_")] = cutText(x.value, d.valueChars);
    if (f.failures !== null) {
      details.failed_apis = f.failures.lines.slice(0, d.failures).map((l) => cutText(l, d.lineChars));
      details.failed_total = f.failures.total;
    }
    if (f.error !== null) details.error = cutText(f.error, d.errorChars);
    if (f.labels.length > 0) details.labels = Object.fromEntries(f.labels.slice(0, d.labels).map(([k, v]) => [cutText(oneLine(k), d.valueChars), cutText(v, d.valueChars)]));
    return {
      routing_key: routingKey,
      event_action: "trigger",
      dedup_key: dedupKey,
      client: "apig-taskwatch",
      payload: {
        summary: summaryLine(view, f, SUMMARY_CHARS),
        source: cutText(`apig-taskwatch/${view.region}/${view.instance_id}`, 255),
        severity: opts.test ? "info" : view.outcome === "partial" ? "warning" : "error",
        timestamp: view.finished_at ?? (opts.now ?? new Date()).toISOString(),
        component: cutText(view.instance_id, 255),
        group: cutText(view.project_id, 255),
        class: view.task_type ?? "unknown",
        custom_details: details,
      },
      ...(f.download !== null ? { links: [{ href: f.download.url, text: "Download the export" }] } : {}),
    };
  });
}
