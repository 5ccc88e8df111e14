/**
 * When a watch whose APIG queries fail transiently is polled again: a
 * deterministic, jittered, capped exponential schedule that costs no writes.
 */
import { createHash } from "node:crypto";
import { isTerminal, type Watch } from "./watch";

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
