/**
 * A finished watch as an EventBridge event: `Source` `apig-taskwatch`,
 * `DetailType` the webhook event type, `Detail` the webhook body. An entry
 * may hold 256 KB; a watch whose stored result is larger goes with its
 * result lists shortened and `data.truncated: true`.
 */
import type { WatchView } from "../domain/watch-view";
import { cutText } from "./message-facts";

export const EVENT_SOURCE = "apig-taskwatch";
/** PutEvents' entry limit, counted as AWS does (Source, DetailType, Detail, Resources, Time). */
export const EVENTBRIDGE_MAX_BYTES = 256 * 1024;

/** The `DetailType` and `Detail` of the event for `view`, `type` its webhook event type. */
export function buildEventBridgeEntry(view: WatchView, type: string, now: Date): { DetailType: string; Detail: string } {
  const detail = (data: unknown) => JSON.stringify({ type, timestamp: now.toISOString(), data });
  const size = (d: string) => Buffer.byteLength(EVENT_SOURCE) + Buffer.byteLength(type) + Buffer.byteLength(d) + 14;
  const full = detail(view);
  if (size(full) <= EVENTBRIDGE_MAX_BYTES) return { DetailType: type, Detail: full };
  for (const chars of [2000, 300, 0]) {
    const d = detail({ ...shorten(view, chars), truncated: true });
    if (size(d) <= EVENTBRIDGE_MAX_BYTES || chars === 0) return { DetailType: type, Detail: d };
  }
  /* c8 ignore next */
  throw new Error("unreachable");
}

/** The view with its result's lists and texts cut: at most 10 failures, each text `chars` long. */
function shorten(view: WatchView, chars: number): WatchView {
  const r = view.result;
  const cut = (s: string | undefined) => (s === undefined ? undefined : cutText(s, chars));
  let result = r;
  if (r?.kind === "import") {
    result = {
      ...r,
      success: chars === 0 ? [] : r.success.slice(0, 10),
      failure: r.failure.slice(0, chars === 0 ? 0 : 10).map((f) => ({ ...f, error_msg: cut(f.error_msg) })),
      ignore: r.ignore.slice(0, chars === 0 ? 0 : 10),
      truncated: true,
    };
  } else if (r?.kind === "export") result = { ...r, content: cut(r.content), truncated: true };
  else if (r?.kind === "raw") result = { ...r, raw: cutText(r.raw, chars), truncated: true };
  else if (r?.kind === "failure") result = { ...r, error_msg: cut(r.error_msg) };
  const last = view.last_error === null ? null : { ...view.last_error, message: cutText(view.last_error.message, Math.max(chars, 200)) };
  return { ...view, result, last_error: last, history: view.history.slice(-20) };
}
