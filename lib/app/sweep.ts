/**
 * What the poller has served, as stored per due shard (`SweepRecord`), so
 * that every container, fresh or warm, judges which watch is most overdue
 * from the table rather than from its own memory; and the backlog figure
 * (the most overdue open watch's age) for shards no invocation read. Pure.
 *
 * A shard's watches fall into {@link SWEEP_BUCKETS} buckets by a hash of
 * their key. A bucket's time is the oldest last poll among its watches when
 * the record was written, so it never claims more than was done: a bucket an
 * invocation only half served keeps its old time and goes first next time.
 */
import { type CadenceRules, cadenceDelayMs } from "../domain/cadence";
import { SWEEP_BUCKETS, type SweepRecord } from "./ports";

/** A record of an empty shard is rewritten at least this often, so a shard nobody reads shows in the backlog. */
export const EMPTY_SWEEP_REFRESH_MS = 10 * 60_000;

/** The bucket of a watch key (FNV-1a, stable across containers and versions). */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % SWEEP_BUCKETS;
}

/** When the stored record says a watch was last polled, or `fallback` when it does not know. */
export function storedLastPoll(r: SweepRecord | undefined, key: string, fallback: number): number {
  const at = r?.buckets[bucketOf(key)] ?? 0;
  return at > 0 ? at : fallback;
}

/**
 * The record to store after an invocation: per bucket, the oldest last poll
 * of its watches (`servedAt`: the poll this container saw, else what the
 * table said); an empty bucket is served now.
 * @param force write it even when unchanged (a handover: the successor waits for it)
 * @returns null when the stored record is still true and fresh enough not to be rewritten
 */
export function nextSweep(
  shard: string,
  prev: SweepRecord | undefined,
  watches: Iterable<{ key: string; servedAt: number }>,
  now: number,
  force = false,
): SweepRecord | null {
  const buckets = new Array<number>(SWEEP_BUCKETS).fill(Number.POSITIVE_INFINITY);
  let open = 0;
  for (const w of watches) {
    open++;
    const b = bucketOf(w.key);
    buckets[b] = Math.min(buckets[b]!, w.servedAt);
  }
  for (let b = 0; b < SWEEP_BUCKETS; b++) if (buckets[b] === Number.POSITIVE_INFINITY) buckets[b] = now;
  // Idle costs nothing: an empty shard is rewritten only now and then.
  if (!force && open === 0 && prev?.open === 0 && now - prev.at < EMPTY_SWEEP_REFRESH_MS) return null;
  return { shard, at: now, open, buckets };
}

/**
 * The age in seconds of the most overdue watch of a shard as its stored
 * record tells it: a bucket served at t was due again at t + the old
 * watches' cadence. A stale record of an empty shard counts from its
 * refresh, so a shard nobody reads shows either way.
 */
export function storedBacklogS(r: SweepRecord, now: number, cadence: CadenceRules): number {
  const late =
    r.open === 0
      ? now - (r.at + EMPTY_SWEEP_REFRESH_MS + cadence.maxMs)
      : Math.max(...r.buckets.map((at) => now - (at + cadenceDelayMs(Number.POSITIVE_INFINITY, cadence))));
  return Math.max(0, Math.round(late / 1000));
}
