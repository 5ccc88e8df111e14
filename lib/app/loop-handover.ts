/**
 * The poll loop's ends (`poll-loop.ts`): taking shards over from the
 * invocation before (`handover.ts`), letting them go to the next, and the
 * per-shard sweep records either way.
 */
import { type CadenceRules, nextPollAt } from "../domain/cadence";
import { errorText } from "../domain/error-text";
import type { DueReader } from "./due-reader";
import { type HandoverOptions, heldByPredecessor, packSchedule } from "./handover";
import type { LoopDeps, LoopOptions } from "./poll-loop";
import type { Entry, PollerState } from "./poll-schedule";
import type { LoopSummary } from "./loop-summary";
import { nextSweep } from "./sweep";

/** Wait, polling nothing, until the invocation before has let our shards go (`handover.ts`); then read their records as it left them. */
export async function takeOver(deps: LoopDeps, state: PollerState, reader: DueReader, opts: LoopOptions, sum: LoopSummary) {
  const ho = opts.handover;
  if (!ho) return;
  const from = deps.clock().getTime();
  for (;;) {
    const t = deps.clock().getTime();
    if (!heldByPredecessor(ho.previous, reader.records, opts.shards, t, ho.waitUntil) || t >= opts.hardStopAt || state.stopping) break;
    await deps.sleep(ho.checkEveryMs);
    try {
      await reader.readRecords(opts.shards, { consistent: true });
    } catch (err) {
      sum.errors++;
      deps.log.error("sweep_read_failed", { error: errorText(err) });
    }
  }
  sum.handoverWaitMs = deps.clock().getTime() - from;
  // Every watch this container remembers is reconciled with what the invocation before left, not only the new ones a pickup finds.
  for (const shard of opts.shards) state.fullReadAt.delete(shard);
}

/**
 * Let our shards go: each one's record with our round and every watch's next
 * poll, for the successor. An idle coordinator (nothing open) marks its round
 * ended instead, so an idle deployment writes one small item a minute.
 */
export async function letGo(deps: LoopDeps, state: PollerState, reader: DueReader, shards: readonly string[], ho: HandoverOptions, sum: LoopSummary) {
  const at = deps.clock().getTime();
  if (ho.mayEndRound && !sum.handedOver && state.entries.size === 0) {
    try {
      // Ended: the records as without a handover (an empty shard's now and then).
      if (await deps.store.endRound(ho.round)) return await storeSweeps(deps, state, reader, reader.read, at, sum);
    } catch (err) {
      sum.errors++;
      deps.log.error("round_write_failed", { error: errorText(err) });
    }
  }
  await storeSweeps(deps, state, reader, new Set([...reader.read, ...shards]), at, sum, ho.round.round);
}

/** Where a watch is scheduled next, for the successor: a poll in flight counts as sent now. */
function nextOf(e: Entry, now: number, cadence: CadenceRules): number {
  if (!e.inFlight) return e.nextAt;
  const waitedUntil = e.watch?.waited_until ?? e.facts?.waitedUntil ?? null;
  return nextPollAt({ createdAt: e.createdAt, waitedUntil, lastPollAt: now, faults: 0 }, cadence, () => 0);
}

/** Store, per shard read, what was served, so the next container (fresh or warm) starts with the most overdue; with `round`, also each watch's next poll. */
export async function storeSweeps(deps: LoopDeps, state: PollerState, reader: DueReader, shards: Set<string>, end: number, sum: LoopSummary, round?: number) {
  const byShard = new Map<string, Entry[]>([...shards].map((s) => [s, []]));
  for (const e of state.entries.values()) byShard.get(e.shard)?.push(e);
  await Promise.all(
    [...byShard].map(async ([shard, entries]) => {
      const swept = nextSweep(shard, reader.records.get(shard), entries, end, round !== undefined);
      if (!swept) return;
      const next =
        round === undefined
          ? swept
          : { ...swept, round, next: packSchedule(end, entries.map((e) => ({ key: e.key, nextAt: nextOf(e, end, deps.cadence), faults: e.faults }))) };
      try {
        await deps.store.writeSweep(next);
        reader.records.set(shard, next);
      } catch (err) {
        sum.errors++;
        deps.log.error("sweep_write_failed", { shard, error: errorText(err) });
      }
    }),
  );
}
