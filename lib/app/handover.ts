/**
 * The handover between scheduled invocations, so no stretch between them goes
 * without polls and no watch is polled twice within its cadence because of it.
 *
 * Lambda runs one invocation per container at a time, so a successor that
 * starts while its predecessor still polls lands on another container, whose
 * memory of each watch's schedule is a minute or more old. The round record
 * and the shards' sweep records carry what it needs:
 *
 * 1. A scheduled invocation reads the stored {@link PollRound} (its
 *    predecessor's) and writes its own: one small write a minute. Its
 *    workers are told both.
 * 2. The predecessor keeps polling past the next scheduled start; from
 *    shortly before it, it reads the round every `HANDOVER_CHECK_MS`
 *    (`timing.ts`). When a newer round shows, it starts no more polls and
 *    writes each shard's sweep record with its round and every watch's next
 *    poll as it had it scheduled ({@link packSchedule}: 7 bytes a watch),
 *    the one write a shard gets a minute. With no successor it polls until
 *    its round's `coverUntil` (`LATE_SUCCESSOR_MS` past the next start) and
 *    lets go the same way; an idle coordinator marks its round ended instead.
 * 3. The successor polls nothing until every shard it owns is let go (its
 *    record carries the predecessor's round) or the round ended, for at most
 *    `HANDOVER_WAIT_MS` (a predecessor that does not let go by then has
 *    crashed or been killed), and not at all when it came before the
 *    predecessor looks for it. Then each watch goes on at the next poll its
 *    predecessor had scheduled.
 *
 * Pure, but for the reads and writes passed in.
 */
import type { PollRound, SweepRecord, WatchRepository } from "./ports";

/** What the loop needs to take part in the handover; absent: no handover (tests and tools that run one loop). */
export interface HandoverOptions {
  /** This invocation's round (its scheduled invocation's start). */
  round: PollRound;
  /** The round before, as read when this one started; null: none, or from before handovers. */
  previous: PollRound | null;
  /**
   * Wait for the round before no longer than this (epoch ms): it sees a newer
   * round within a check once it looks, so a longer wait means it is gone
   * (crashed, killed); and one that has not started looking yet was more
   * than `SUCCESSOR_EARLY_MS` late or is gone, so it is not waited for.
   */
  waitUntil: number;
  /** From this time on, look for a successor's round every `checkEveryMs`. */
  checkFrom: number;
  checkEveryMs: number;
  /** May mark the round ended when it leaves nothing open (the coordinator when it started no worker). */
  mayEndRound: boolean;
}

/** Whether `previous`'s invocations may still be polling `shards`: true until each is let go, the round ended, or its cover passed. */
export function heldByPredecessor(
  previous: PollRound | null,
  records: ReadonlyMap<string, SweepRecord>,
  shards: readonly string[],
  now: number,
  waitUntil = Number.POSITIVE_INFINITY,
): boolean {
  if (previous === null || previous.ended === true || now >= previous.coverUntil || now >= waitUntil) return false;
  return shards.some((s) => (records.get(s)?.round ?? Number.NEGATIVE_INFINITY) < previous.round);
}

/** Whether a round newer than `own` has started (the successor is here). */
export async function successorStarted(store: Pick<WatchRepository, "readRound">, own: PollRound): Promise<boolean> {
  const r = await store.readRound();
  return r !== null && r.round > own.round;
}

/** FNV-1a over the key, 32 bits: 10,000 watches in a shard share a hash about once in a hundred records. */
function hash32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** One watch's place in a handed-over schedule. */
export interface Scheduled {
  /** Epoch ms of its next poll (100 ms resolution, rounded up). */
  nextAt: number;
  /** Transient faults in a row, for its backoff. */
  faults: number;
}

const ENTRY_BYTES = 7;
const TICK_MS = 100;

/** Pack each watch's next poll, relative to `at`, as the sweep record's `next` (base64, 7 bytes a watch). */
export function packSchedule(at: number, watches: Iterable<{ key: string } & Scheduled>): string {
  const list = [...watches];
  const buf = Buffer.alloc(list.length * ENTRY_BYTES);
  list.forEach((w, i) => {
    const o = i * ENTRY_BYTES;
    buf.writeUInt32BE(hash32(w.key), o);
    // Rounded up: a successor never polls sooner than the predecessor would have.
    buf.writeUInt16BE(Math.min(0xffff, Math.max(0, Math.ceil((w.nextAt - at) / TICK_MS))), o + 4);
    buf.writeUInt8(Math.min(0xff, w.faults), o + 6);
  });
  return buf.toString("base64");
}

const unpacked = new WeakMap<SweepRecord, Map<number, Scheduled>>();

/** Where the record's writer had `key` scheduled, or undefined when it did not follow it. */
export function scheduledIn(r: SweepRecord | undefined, key: string): Scheduled | undefined {
  if (r?.next === undefined) return undefined;
  let m = unpacked.get(r);
  if (!m) {
    m = new Map();
    const buf = Buffer.from(r.next, "base64");
    for (let o = 0; o + ENTRY_BYTES <= buf.length; o += ENTRY_BYTES) {
      const h = buf.readUInt32BE(o);
      const s = { nextAt: r.at + buf.readUInt16BE(o + 4) * TICK_MS, faults: buf.readUInt8(o + 6) };
      // Two watches with one hash: the later poll, so neither is polled early.
      const prev = m.get(h);
      if (!prev || prev.nextAt < s.nextAt) m.set(h, s);
    }
    unpacked.set(r, m);
  }
  return m.get(hash32(key));
}
