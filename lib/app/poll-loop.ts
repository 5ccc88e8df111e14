/**
 * One poller invocation's loop. It reads the due set of its shards
 * (`due-reader.ts`), keeps the watches in memory and polls each on its own
 * cadence (`poll-schedule.ts`) until shortly before the next scheduled
 * invocation, at most `concurrency` at a time and at most `maxRps` per region
 * (`throttles.ts`); of the watches whose time has come, the most overdue goes
 * first, judged from what is stored, so fresh and warm containers alike get
 * to every watch. It ends at once when nothing is due before the next
 * schedule (idle costs nothing), and starts nothing, nor waits for a rate
 * slot, past the hard stop.
 *
 * Poll first, read later: the due index carries what a poll needs, so a poll
 * reads no item; the item is read (batched, `item-reads.ts`) only when APIG's
 * answer would change the watch, or to deliver. It writes only on
 * transitions and delivers at once when a watch ends.
 *
 * At the end it stores, per shard, what it served (`sweep.ts`), and reports
 * the backlog: the age of the most overdue open watch from when it became
 * due, per shard and overall, including shards it did not read.
 *
 * With `handover` (`handover.ts`) it polls nothing until its predecessor has
 * let its shards go, goes on with each watch where the predecessor stopped,
 * and polls past the next scheduled start until its successor has started,
 * then lets go: no stretch between invocations without polls.
 *
 * The state (`PollerState`) outlives the invocation in a warm container.
 * Overlapping invocations stay correct: every write is conditional on the
 * version read.
 */
import { setMaxListeners } from "node:events";
import type { CadenceRules } from "../domain/cadence";
import { errorText } from "../domain/error-text";
import { transition } from "../domain/lifecycle";
import { isTerminal } from "../domain/watch";
import { DueReader } from "./due-reader";
import { type HandoverOptions, successorStarted } from "./handover";
import { ItemReads } from "./item-reads";
import { letGo, storeSweeps, takeOver } from "./loop-handover";
import type { DueKey } from "./ports";
import { createPollerState, type Entry, factsOf, type PollerState, PollSchedule, pollView } from "./poll-schedule";
import type { WatchDeps } from "./deps";
import { applyObservation, deliverOwed, queryApig } from "./observe-and-deliver";
import { emptyLoopSummary, type LoopSummary, reportBacklog } from "./loop-summary";
import { RegionThrottles } from "./throttles";

export { createPollerState, emptyLoopSummary, type LoopSummary, type PollerState };

export interface LoopDeps extends WatchDeps {
  /** Resolves after `ms` on the deps' clock, or at once when `signal` aborts (tests pass a virtual one). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  cadence: CadenceRules;
}

/** Why the loop's alarm was cancelled (an abort reason made once). */
const ALARM_REPLACED = new Error("poll loop alarm replaced");

/** Stop the loop running on `state` at once: nothing new starts, polls in flight finish (local stack shutdown). */
export function stopPollLoop(state: PollerState): void {
  state.stopping = true;
  state.wake?.();
}

export interface LoopOptions {
  /** The due-index shards this invocation owns. */
  shards: string[];
  /** Start no poll after this (epoch ms): with `handover`, the round's `coverUntil`; without, shortly before the next scheduled invocation. */
  endAt: number;
  /** Handle every watch due at the start once, then stop, whatever `endAt` says (one cold round). */
  once?: boolean;
  /** Start nothing, and wait for no rate slot, after this, whatever is still due: the Lambda's end minus the reserve. */
  hardStopAt: number;
  concurrency: number;
  /** APIG queries per second per region for this invocation. */
  maxRps: number;
  /** The due set of a shard is read in full at most this often. */
  fullReadEveryMs: number;
  /** New due entries are looked for this often. */
  pickupEveryMs: number;
  /** How far back a pickup looks before the previous read's end, for index propagation lag. */
  pickupOverlapMs: number;
  /** Shards whose due set the caller has just read in full (the fan-out coordinator's sample). */
  preread?: Map<string, { keys: DueKey[]; at: number }>;
  /** Shards whose backlog to report besides `shards`, from their stored sweep records (the coordinator: all). */
  reportShards?: string[];
  /** Take over from the invocation before, and hand over to the next (`handover.ts`). */
  handover?: HandoverOptions;
}

/** Run one invocation's loop over `opts.shards`. Never throws for a single watch's failure. */
export async function runPollLoop(deps: LoopDeps, state: PollerState, opts: LoopOptions): Promise<LoopSummary> {
  const now = () => deps.clock().getTime();
  const started = now();
  const sum = emptyLoopSummary();
  const owned = new Set(opts.shards);
  const schedule = new PollSchedule(state, deps.cadence, deps.random);
  for (const [key, e] of state.entries) {
    // Another invocation owns that shard now (fan-out).
    if (!owned.has(e.shard)) state.entries.delete(key);
    else schedule.queue(e);
  }
  const reader = new DueReader(
    deps,
    state,
    schedule,
    {
      shards: opts.shards,
      fullReadEveryMs: opts.fullReadEveryMs,
      pickupOverlapMs: opts.pickupOverlapMs,
      atOnce: opts.once === true,
      ...(opts.preread ? { preread: opts.preread } : {}),
    },
    sum,
  );
  const reads = new ItemReads(deps.store);
  const throttles = new RegionThrottles(state.throttles, opts.maxRps, deps);
  const abort = new AbortController();
  // Every poll waiting for a rate slot listens on it: up to `concurrency` at once, not a leak.
  setMaxListeners(opts.concurrency + 16, abort.signal);

  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  state.wake = poke;

  // With `once`: the watches due at the start that have not had their turn yet.
  const firstRound = new Set<string>();
  const readItem = (e: Entry) => {
    sum.itemReads++;
    return reads.read(e.tenant, e.taskId);
  };

  /** Handling a watch failed (a store error, a malformed item): read it afresh next time, backing off as for an APIG fault. */
  const failed = (e: Entry, err: unknown) => {
    sum.errors++;
    deps.log.error("watch_failed", { task_id: e.taskId, tenant: e.tenant, error: errorText(err) });
    e.lastPollAt = now();
    e.faults++;
    e.watch = null;
    e.facts = null;
    schedule.schedulePoll(e, now());
    if (state.entries.get(e.key) === e) schedule.queue(e);
  };

  const handle = async (e: Entry) => {
    try {
      // The item is needed to deliver, and for an index entry that carries no poll facts.
      if (e.watch === null && (e.facts === null || isTerminal(e.facts.seen.status))) {
        e.watch = await readItem(e);
        if (e.watch === null) return schedule.remove(e);
        e.facts = factsOf(e.watch);
      }
      const w = e.watch;
      if (w !== null && isTerminal(w.status)) {
        sum.deliveryRounds++;
        const r = await deliverOwed(deps, w, deps.clock());
        return schedule.settle(e, r.watch, now());
      }
      const view = w ?? pollView(e.tenant, e.taskId, e.facts!);
      if (!(await throttles.acquire(view.region, opts.hardStopAt, abort.signal))) {
        // No slot before the hard stop: it stays due for the next invocation.
        sum.slotMisses++;
        e.nextAt = Math.max(e.nextAt, opts.hardStopAt);
        schedule.queue(e);
        return;
      }
      // Delays count from when a query goes out, so a slow answer does not stretch the gap between two polls.
      const sentAt = now();
      const observation = await queryApig(deps, view);
      sum.polls++;
      throttles.observe(view.region, observation);
      e.lastPollAt = sentAt;
      e.servedAt = sentAt;
      e.faults = !observation.ok && observation.category === "transient" ? e.faults + 1 : 0;
      // Poll first, read later: an answer that changes nothing needs no item.
      if (!transition(view, { type: "observed", observation }, deps.clock(), deps.rules).changed) {
        schedule.schedulePoll(e, now());
        schedule.queue(e);
        return;
      }
      const current = w ?? (await readItem(e));
      if (current === null) return schedule.remove(e);
      const r = await applyObservation(deps, current, observation);
      if (r.outcome === "transitioned") sum.transitions++;
      if (r.outcome === "conflict") sum.conflicts++;
      schedule.settle(e, r.watch, now());
    } catch (err) {
      failed(e, err);
    }
  };

  const refresh = async () => {
    try {
      const bare = await reader.refresh();
      // Entries from before the index carried the poll's facts: their items, 100 to a read, before any poll waits on one.
      await Promise.all(
        bare.map(async (e) => {
          try {
            const w = await readItem(e);
            if (w === null) return schedule.remove(e);
            e.watch = w;
            e.facts = factsOf(w);
          } catch (err) {
            failed(e, err);
          }
        }),
      );
    } catch (err) {
      sum.errors++;
      deps.log.error("due_read_failed", { error: errorText(err) });
    }
  };
  try {
    await reader.readRecords([...new Set([...opts.shards, ...(opts.reportShards ?? [])])]);
  } catch (err) {
    // Without them the order falls back to registration times; the polls go on.
    sum.errors++;
    deps.log.error("sweep_read_failed", { error: errorText(err) });
  }
  await takeOver(deps, state, reader, opts, sum);
  await refresh();
  const roundAt = now();
  let nextRefreshAt = roundAt + opts.pickupEveryMs;
  schedule.promote(roundAt);
  for (const e of state.entries.values()) if (e.nextAt <= roundAt) firstRound.add(e.key);

  // The loop's one alarm for its timed waits, kept across wake-ups: a
  // finished poll wakes the loop some 200 times a second at the cap, and a
  // fresh timer (and abort) per wake-up cost more CPU than the polls' own work.
  // An alarm that fires before it is needed only makes the loop look again.
  let alarmAt = Number.POSITIVE_INFINITY;
  let alarmGen = 0;
  let alarmStop: AbortController | null = null;
  const cancelAlarm = () => {
    alarmGen++;
    alarmAt = Number.POSITIVE_INFINITY;
    // A constant reason: `abort()` without one builds a DOMException, stack trace and all.
    alarmStop?.abort(ALARM_REPLACED);
    alarmStop = null;
  };
  const alarm = (at: number, t: number) => {
    if (alarmAt <= at) return;
    cancelAlarm();
    const gen = alarmGen;
    alarmAt = at;
    alarmStop = new AbortController();
    void deps.sleep(at - t, alarmStop.signal).then(() => {
      if (gen !== alarmGen) return;
      alarmAt = Number.POSITIVE_INFINITY;
      alarmStop = null;
      poke();
    });
  };

  let inFlight = 0;
  const running = new Set<Promise<void>>();
  const ho = opts.handover;
  let nextCheckAt = ho ? ho.checkFrom : Number.POSITIVE_INFINITY;
  for (;;) {
    const t0 = now();
    if (state.stopping || t0 >= opts.hardStopAt) break;
    if (ho && t0 >= nextCheckAt) {
      nextCheckAt = t0 + ho.checkEveryMs;
      try {
        // The successor is here: it polls nothing until we let go, so let go now.
        if (await successorStarted(deps.store, ho.round)) sum.handedOver = true;
      } catch (err) {
        sum.errors++;
        deps.log.error("round_read_failed", { error: errorText(err) });
      }
      if (sum.handedOver) break;
    }
    if (opts.once ? firstRound.size === 0 && inFlight === 0 : t0 >= opts.endAt) break;
    // Idle costs nothing: with nothing due before the next invocation, end now
    // (a registration meanwhile is queried by the registration itself, then by the next invocation).
    if (!opts.once && inFlight === 0 && schedule.nextAt(t0) >= opts.endAt) {
      sum.idleExit = true;
      break;
    }
    if (t0 >= nextRefreshAt) {
      nextRefreshAt = t0 + opts.pickupEveryMs;
      await refresh();
      // Region health and "the poller runs" for GET /health; written at most once a minute.
      await deps.health.flush({ pollerRan: true });
    }
    schedule.promote(now());
    while (inFlight < opts.concurrency) {
      // A stale node (dropped, re-queued, being handled) is skipped by `take`.
      const e = schedule.take((x) => !opts.once || firstRound.has(x.key));
      if (!e) break;
      e.inFlight = true;
      inFlight++;
      firstRound.delete(e.key);
      const p: Promise<void> = handle(e).finally(() => {
        e.inFlight = false;
        inFlight--;
        running.delete(p);
        poke();
      });
      running.add(p);
    }
    const t = now();
    const until = Math.min(
      opts.once ? Number.POSITIVE_INFINITY : Math.min(nextRefreshAt, opts.endAt, nextCheckAt),
      opts.hardStopAt,
      inFlight < opts.concurrency && !opts.once ? schedule.nextAt(t) : Number.POSITIVE_INFINITY,
    );
    const woken = new Promise<void>((r) => (wake = r));
    if (until === Number.POSITIVE_INFINITY) {
      if (inFlight === 0) break;
      await woken;
    } else if (until > t) {
      alarm(until, t);
      await woken;
    } else if (inFlight >= opts.concurrency) {
      await woken;
    }
    wake = null;
  }
  cancelAlarm();
  // Rate-limiter waits end now: the polls they would start are past the loop's end.
  abort.abort();
  // The successor waits for this, not for the answers still in flight.
  if (ho) await letGo(deps, state, reader, opts.shards, ho, sum);
  await Promise.all(running);
  delete state.wake;
  await deps.health.flush({ pollerRan: true });

  const end = now();
  if (!ho) await storeSweeps(deps, state, reader, reader.read, end, sum);
  const seen = { entries: state.entries.values(), read: reader.read, records: reader.records, cadence: deps.cadence };
  reportBacklog(sum, seen, [...opts.shards, ...(opts.reportShards ?? [])], end);
  sum.watches = state.entries.size;
  sum.pollsPerS = end > started ? Math.round((sum.polls / ((end - started) / 1000)) * 10) / 10 : 0;
  return sum;
}
