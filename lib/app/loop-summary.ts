/**
 * What one invocation's loop reports: the work done and left, and the
 * backlog, the age of the most overdue open watch from when it became due,
 * per shard and overall, for the shards it read (from memory) and those it
 * did not (from their stored sweep records).
 */
import type { CadenceRules } from "../domain/cadence";
import type { SweepRecord } from "./ports";
import type { Entry } from "./poll-schedule";
import { storedBacklogS } from "./sweep";

export interface LoopSummary {
  /** Watches followed when the loop ended. */
  watches: number;
  /** APIG queries made. */
  polls: number;
  /** Items read (APIG's answer changed, a delivery, or an index entry without the poll's facts). */
  itemReads: number;
  /** Owed deliveries handled for finished watches. */
  deliveryRounds: number;
  transitions: number;
  conflicts: number;
  errors: number;
  /** Full reads of a shard's due set / pickups of new entries. */
  fullReads: number;
  pickups: number;
  /** Watches due when the loop ended that it had no time for. */
  deferred: number;
  /** Polls not started because no rate slot came before the hard stop. */
  slotMisses: number;
  /** The loop ended before `endAt` because nothing was due before it. */
  idleExit: boolean;
  /** How long it waited, at the start, for its predecessor to let its shards go (`handover.ts`), ms. */
  handoverWaitMs: number;
  /** It ended because its successor had started (`handover.ts`). */
  handedOver: boolean;
  /** How late the most overdue open watch is, from when it became due, in seconds, over every reported shard: the backlog. */
  oldestDueAgeS: number;
  /** The same per shard. */
  backlogByShard: Record<string, number>;
  /** APIG queries per second over the loop's polling time. */
  pollsPerS: number;
}

/** A summary with nothing counted yet. */
export function emptyLoopSummary(): LoopSummary {
  return {
    watches: 0,
    polls: 0,
    itemReads: 0,
    deliveryRounds: 0,
    transitions: 0,
    conflicts: 0,
    errors: 0,
    fullReads: 0,
    pickups: 0,
    deferred: 0,
    slotMisses: 0,
    idleExit: false,
    handoverWaitMs: 0,
    handedOver: false,
    oldestDueAgeS: 0,
    backlogByShard: {},
    pollsPerS: 0,
  };
}

/**
 * Fill in `deferred`, `backlogByShard` and `oldestDueAgeS` at the loop's end.
 * @param shards every shard to report: those the invocation owns and those it reports for others
 */
export function reportBacklog(
  sum: LoopSummary,
  seen: { entries: Iterable<Entry>; read: ReadonlySet<string>; records: ReadonlyMap<string, SweepRecord>; cadence: CadenceRules },
  shards: readonly string[],
  end: number,
): void {
  for (const s of shards) if (seen.read.has(s)) sum.backlogByShard[s] = 0;
  for (const e of seen.entries) {
    if (e.nextAt <= end) sum.deferred++;
    // From when it became due: its cadence's time, or the deadline of the last poll the table knows of.
    const lateS = Math.max(0, Math.round((end - e.dueSince) / 1000));
    sum.backlogByShard[e.shard] = Math.max(sum.backlogByShard[e.shard] ?? 0, lateS);
  }
  // Shards this invocation did not read (another's, or a read that failed): what their stored records say.
  for (const s of new Set(shards)) {
    const r = seen.records.get(s);
    if (!seen.read.has(s) && r) sum.backlogByShard[s] = storedBacklogS(r, end, seen.cadence);
  }
  sum.oldestDueAgeS = Math.max(0, ...Object.values(sum.backlogByShard));
}
