/**
 * When a watch is polled next: a waiter-like cadence by the watch's age, and
 * capped exponential backoff with jitter after transient APIG faults. Pure:
 * the poll loop keeps, per watch, what a {@link PollClock} holds (registered
 * at, last polled at, faults in a row) and asks this module.
 *
 * The cadence (no fault): every `minMs` in the first minute, then age / 30
 * (so 6 s at 3 minutes, just under 30 s before 15 minutes), and every `maxMs`
 * from `YOUNG_FOR_MS` (15 minutes) on. A task's end is therefore seen within
 * a few seconds while it is young, which is when most imports end, and APIG
 * is asked about old tasks once a minute.
 *
 * A watch a client is waiting on (`waited_until` in the future) is polled
 * every `minMs` whatever its age: the client reads at the `Retry-After`
 * rhythm this module also gives, so it hears of the end within seconds.
 *
 * After a transient fault the delay doubles from the cadence's delay on each
 * consecutive fault, jittered over its upper half (never sooner than the
 * healthy cadence), and never exceeds `backoffCapMs`. The loop makes the cap
 * after the previous poll that watch's deadline and serves the earliest
 * deadline first.
 */

export interface CadenceRules {
  /** Delay while the watch is young (first minute). */
  minMs: number;
  /** Longest delay between two polls of a healthy watch. */
  maxMs: number;
  /** Longest delay between two polls of a watch whose polls keep failing. */
  backoffCapMs: number;
}

export const DEFAULT_CADENCE: CadenceRules = { minMs: 2_000, maxMs: 60_000, backoffCapMs: 300_000 };

/** Age after which a watch is "old": polled every `maxMs`. */
export const YOUNG_FOR_MS = 15 * 60_000;

/** Delay between two polls of a healthy watch of age `ageMs`. */
export function cadenceDelayMs(ageMs: number, rules: CadenceRules): number {
  if (ageMs >= YOUNG_FOR_MS) return rules.maxMs;
  return Math.min(rules.maxMs, Math.max(rules.minMs, Math.round(Math.max(0, ageMs) / 30)));
}

/**
 * How long one read by a waiting client keeps a watch at the young cadence,
 * and how often that mark is written again while reads keep coming: one
 * write (three write units: the item and the due-index entry moving) per
 * watch every four minutes, so most waited lives (imports end in minutes)
 * pay one; a client gone keeps the fast cadence for five minutes at most,
 * about 150 extra APIG queries, which the held poller makes at no cost.
 */
export const WAITED_FOR_MS = 5 * 60_000;
export const WAITED_REFRESH_MS = 4 * 60_000;

/** True when `now` is past the point where a waiting client's read must write the mark again. */
export function needsWaitedMark(waitedUntil: number | null | undefined, now: number): boolean {
  return waitedUntil == null || waitedUntil - now < WAITED_FOR_MS - WAITED_REFRESH_MS;
}

/**
 * Time from a poll going out to its answer being in the table: APIG's
 * answer (a few hundred ms at p99) and the write. A client told to come
 * back after the next poll comes back after this too.
 */
export const ANSWER_LAG_MS = 800;

/**
 * The `Retry-After` of a watch that is not terminal, in whole seconds (1 to
 * 60): the longest the next poll can take, at the cadence the poller follows
 * for it now, plus the answer's lag. The API does not know the poller's phase,
 * so this is the bound, not the exact instant.
 */
export function retryAfterS(c: { createdAt: number; waitedUntil?: number | null }, now: number, rules: CadenceRules): number {
  const waited = c.waitedUntil != null && c.waitedUntil > now;
  const delay = waited ? rules.minMs : cadenceDelayMs(now - c.createdAt, rules);
  return Math.min(60, Math.max(1, Math.ceil((delay + ANSWER_LAG_MS) / 1000)));
}

/** What the loop knows about one watch's polling. */
export interface PollClock {
  /** Epoch ms the watch was registered. */
  createdAt: number;
  /** Epoch ms until which a client waits on it (polled every `minMs`); null or absent when none does. */
  waitedUntil?: number | null;
  /** Epoch ms the last query was sent, null before the first. */
  lastPollAt: number | null;
  /** Consecutive transient faults up to the last poll. */
  faults: number;
}

/**
 * Epoch ms of the next poll after the one sent at `c.lastPollAt`.
 * @param random in [0, 1), for the fault backoff's jitter
 */
export function nextPollAt(c: PollClock & { lastPollAt: number }, rules: CadenceRules, random: () => number): number {
  const waited = c.waitedUntil != null && c.waitedUntil > c.lastPollAt;
  const base = waited ? rules.minMs : cadenceDelayMs(c.lastPollAt - c.createdAt, rules);
  if (c.faults === 0) return c.lastPollAt + base;
  const cap = Math.max(rules.minMs, rules.backoffCapMs);
  // 2^faults times the cadence's delay, capped; full jitter over the upper half
  // keeps a burst of failing watches from retrying in lockstep while never
  // polling sooner than the healthy cadence would.
  const ceiling = Math.min(cap, base * 2 ** Math.min(c.faults, 20));
  const delay = Math.max(base, ceiling / 2 + (ceiling / 2) * random());
  return c.lastPollAt + Math.min(cap, Math.round(delay));
}
