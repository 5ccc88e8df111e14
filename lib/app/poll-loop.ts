/**
 * One poller invocation. It reads the due set of its shards once, keeps the
 * watches in memory and polls each on its own cadence (`domain/cadence.ts`)
 * until shortly before the next scheduled invocation, at most `concurrency`
 * at a time and at most `maxRps` per region. Of the watches whose time has
 * come, the one with the earliest hard deadline goes first: the backoff cap
 * for a failing watch, a minute since its last poll for a healthy one. So
 * when there is more work than capacity, every watch still gets its turn and
 * a failing one is not left behind the crowd.
 * It writes only on transitions and delivers at once when a watch ends.
 *
 * Reads of the due index: in full at most once a minute per shard, and in
 * between only the entries that appeared since the last read (watches
 * registered meanwhile, retries come due), every few seconds.
 *
 * The state (`PollerState`) outlives the invocation in a warm container, so
 * consecutive invocations continue each watch's schedule instead of polling
 * everything again; a cold container starts with a full read. Overlapping
 * invocations stay correct: every write is conditional on the version read.
 */
import { type CadenceRules, nextPollAt } from "../domain/cadence";
import { nextDeliveryAt } from "../domain/delivery";
import { faultOf } from "../domain/apig-fault";
import { errorText } from "../domain/error-text";
import { isTerminal, type Watch } from "../domain/watch";
import { MinHeap } from "./min-heap";
import type { DueKey } from "./ports";
import type { WatchDeps } from "./deps";
import { applyObservation, deliverOwed, queryApig } from "./observe-and-deliver";
import { AimdThrottle } from "./region-throttle";

export interface LoopDeps extends WatchDeps {
  /** Resolves after `ms` on the deps' clock, or at once when `signal` aborts (tests pass a virtual one). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  cadence: CadenceRules;
}

/** One watch the loop follows. */
interface Entry {
  key: string;
  tenant: string;
  taskId: string;
  shard: string;
  /** Registration time, from the due index until the watch is read. */
  createdAt: number;
  /** The `due_at` the index last showed for it: when it changes, someone else rescheduled it. */
  indexDueAt: number;
  /** The stored watch as last read or written; null until read. */
  watch: Watch | null;
  lastPollAt: number | null;
  /** Consecutive transient APIG faults. */
  faults: number;
  /** When it is to be handled next (epoch ms). */
  nextAt: number;
  /** When it must be handled at the latest; orders the watches whose time has come. */
  dueBy: number;
  inFlight: boolean;
  /** Bumped on every (re)queue, so older heap nodes of this entry are ignored. */
  seq: number;
}

/** What one container keeps between invocations. */
export interface PollerState {
  entries: Map<string, Entry>;
  /** Per shard: when its due set was last read in full. */
  fullReadAt: Map<string, number>;
  /** Per shard: the upper bound of its last read. */
  readUpTo: Map<string, number>;
  /** Per `region|maxRps`: the APIG rate limiters, which remember a throttled region across invocations. */
  throttles: Map<string, AimdThrottle>;
  /** Set by {@link stopPollLoop}: the running loop starts nothing more. */
  stopping: boolean;
  /** Wakes the running loop from its wait (set while one runs). */
  wake?: () => void;
}

/** Stop the loop running on `state` at once: nothing new starts, polls in flight finish (local stack shutdown). */
export function stopPollLoop(state: PollerState): void {
  state.stopping = true;
  state.wake?.();
}

export function createPollerState(): PollerState {
  return { entries: new Map(), fullReadAt: new Map(), readUpTo: new Map(), throttles: new Map(), stopping: false };
}

export interface LoopOptions {
  /** The due-index shards this invocation owns. */
  shards: string[];
  /** Start no poll after this (epoch ms): shortly before the next scheduled invocation. */
  endAt: number;
  /** Handle every watch due at the start once, then stop, whatever `endAt` says (one cold round). */
  once?: boolean;
  /** Start nothing after this, whatever is still due: the Lambda's end minus the reserve. */
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
}

export interface LoopSummary {
  /** Watches followed when the loop ended. */
  watches: number;
  /** APIG queries made. */
  polls: number;
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
  /** How late the most overdue watch was when the loop ended, in seconds: a backlog. */
  oldestDueAgeS: number;
  /** APIG queries per second over the loop's polling time. */
  pollsPerS: number;
}

const keyOf = (tenant: string, taskId: string) => `${tenant}/${taskId}`;

/** A summary with nothing counted yet. */
export function emptyLoopSummary(): LoopSummary {
  return { watches: 0, polls: 0, deliveryRounds: 0, transitions: 0, conflicts: 0, errors: 0, fullReads: 0, pickups: 0, deferred: 0, oldestDueAgeS: 0, pollsPerS: 0 };
}

/** Run one invocation's loop over `opts.shards`. Never throws for a single watch's failure. */
export async function runPollLoop(deps: LoopDeps, state: PollerState, opts: LoopOptions): Promise<LoopSummary> {
  const started = deps.clock().getTime();
  const sum = emptyLoopSummary();
  const owned = new Set(opts.shards);
  // Waiting for their time (by nextAt), and ready to go (by dueBy).
  const waiting = new MinHeap<{ e: Entry; seq: number }>();
  const ready = new MinHeap<{ e: Entry; seq: number }>();
  const queue = (e: Entry) => waiting.push(e.nextAt, { e, seq: ++e.seq });
  const live = (n: { e: Entry; seq: number }) => n.seq === n.e.seq && !n.e.inFlight && state.entries.get(n.e.key) === n.e;
  for (const [key, e] of state.entries) {
    // Another invocation owns that shard now (fan-out).
    if (!owned.has(e.shard)) state.entries.delete(key);
    else queue(e);
  }

  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  state.wake = poke;

  // Per region and rate: a warm container whose share of the rate changed (fan-out) starts afresh.
  const throttle = (region: string) => {
    const key = `${region}|${opts.maxRps}`;
    let t = state.throttles.get(key);
    if (!t) {
      const timer = { now: () => deps.clock().getTime(), sleep: deps.sleep };
      t = new AimdThrottle({ maxRps: opts.maxRps, minRps: Math.min(1, opts.maxRps) }, deps.clock().getTime(), timer);
      state.throttles.set(key, t);
    }
    return t;
  };
  /** False when no token came before the hard stop: the poll must not go out. */
  const token = (region: string) => throttle(region).acquire(opts.hardStopAt);

  // With `once`: the watches due at the start that have not had their turn yet.
  const firstRound = new Set<string>();
  const remove = (e: Entry) => {
    if (state.entries.get(e.key) === e) state.entries.delete(e.key);
    firstRound.delete(e.key);
  };
  /** Keep following a watch as it now is, or let it go when nothing is left to do. */
  const settle = (e: Entry, w: Watch | null) => {
    e.watch = w;
    if (w === null) return remove(e);
    e.createdAt = Date.parse(w.created_at);
    if (isTerminal(w.status)) {
      const due = nextDeliveryAt(w);
      if (due === null) return remove(e);
      e.nextAt = Math.max(due, w.lease_until ?? 0);
      e.dueBy = e.nextAt;
    } else schedulePoll(e);
    queue(e);
  };
  const schedulePoll = (e: Entry) => {
    const last = e.lastPollAt ?? deps.clock().getTime();
    const waitedUntil = e.watch?.waited_until ?? null;
    e.nextAt = nextPollAt({ createdAt: e.createdAt, waitedUntil, lastPollAt: last, faults: e.faults }, deps.cadence, deps.random);
    e.dueBy = Math.max(e.nextAt, last + (e.faults > 0 ? deps.cadence.backoffCapMs : deps.cadence.maxMs));
  };

  const handle = async (e: Entry) => {
    try {
      e.watch ??= await deps.store.get(e.tenant, e.taskId);
      const w = e.watch;
      if (w === null) return remove(e);
      if (isTerminal(w.status)) {
        sum.deliveryRounds++;
        const r = await deliverOwed(deps, w, deps.clock());
        return settle(e, r.watch);
      }
      // The hard stop came first: it stays due for the next invocation.
      if (!(await token(w.region))) return;
      // Delays count from when a query goes out, so a slow answer does not stretch the gap between two polls.
      const sentAt = deps.clock().getTime();
      const observation = await queryApig(deps, w);
      sum.polls++;
      const t = throttle(w.region);
      if (faultOf(observation) === "throttled") t.throttled(deps.clock().getTime());
      else if (observation.ok) t.succeeded(deps.clock().getTime());
      e.lastPollAt = sentAt;
      e.faults = !observation.ok && observation.category === "transient" ? e.faults + 1 : 0;
      const r = await applyObservation(deps, w, observation);
      if (r.outcome === "transitioned") sum.transitions++;
      if (r.outcome === "conflict") sum.conflicts++;
      settle(e, r.watch);
    } catch (err) {
      sum.errors++;
      deps.log.error("watch_failed", { task_id: e.taskId, tenant: e.tenant, error: errorText(err) });
      // Read it afresh next time; back off as for an APIG fault.
      e.lastPollAt = deps.clock().getTime();
      e.faults++;
      e.watch = null;
      schedulePoll(e);
      if (state.entries.get(e.key) === e) queue(e);
    }
  };

  const preread = new Map(opts.preread ?? []);
  /** Read the due index: in full when a minute has passed for a shard, else only what is new. */
  const refresh = async () => {
    await Promise.all(
      opts.shards.map(async (shard) => {
        const pre = preread.get(shard);
        preread.delete(shard);
        const now = pre?.at ?? deps.clock().getTime();
        const last = state.fullReadAt.get(shard);
        const full = pre !== undefined || last === undefined || now - last >= opts.fullReadEveryMs;
        const after = full ? undefined : (state.readUpTo.get(shard) ?? now) - opts.pickupOverlapMs;
        const keys = pre?.keys ?? (await deps.store.dueKeys(shard, { ...(after !== undefined ? { after } : {}), upTo: now }));
        if (full) {
          sum.fullReads++;
          state.fullReadAt.set(shard, now);
        } else sum.pickups++;
        state.readUpTo.set(shard, now);
        const seen = new Set<string>();
        for (const k of keys) {
          const key = keyOf(k.tenant, k.taskId);
          seen.add(key);
          const known = state.entries.get(key);
          if (known) {
            // Moved in the index by another writer (a redelivery, a retry it
            // scheduled): our copy is stale, read it again now.
            if (known.indexDueAt !== k.dueAt && !known.inFlight) {
              known.indexDueAt = k.dueAt;
              known.watch = null;
              known.nextAt = now;
              known.dueBy = now;
              queue(known);
            }
            continue;
          }
          const e: Entry = {
            key,
            tenant: k.tenant,
            taskId: k.taskId,
            shard,
            createdAt: k.dueAt,
            indexDueAt: k.dueAt,
            watch: null,
            lastPollAt: null,
            faults: 0,
            nextAt: now,
            // First sight: due now, and at the latest within the healthy cadence's
            // longest delay, so under overload it does not push failing watches past their cap.
            dueBy: now + deps.cadence.maxMs,
            inFlight: false,
            seq: 0,
          };
          state.entries.set(key, e);
          queue(e);
        }
        // Gone from the due set: finished, cancelled or delivered by someone else.
        if (full) {
          for (const [key, e] of state.entries) {
            if (e.shard === shard && !seen.has(key) && !e.inFlight) remove(e);
          }
        }
      }),
    );
  };

  try {
    await refresh();
  } catch (err) {
    sum.errors++;
    deps.log.error("due_read_failed", { error: errorText(err) });
  }
  const roundAt = deps.clock().getTime();
  let nextRefreshAt = roundAt + opts.pickupEveryMs;
  for (const [key, e] of state.entries) if (e.nextAt <= roundAt) firstRound.add(key);

  let inFlight = 0;
  const running = new Set<Promise<void>>();
  for (;;) {
    const now = deps.clock().getTime();
    if (state.stopping || now >= opts.hardStopAt) break;
    if (opts.once ? firstRound.size === 0 && inFlight === 0 : now >= opts.endAt) break;
    if (now >= nextRefreshAt) {
      nextRefreshAt = now + opts.pickupEveryMs;
      try {
        await refresh();
      } catch (err) {
        sum.errors++;
        deps.log.error("due_read_failed", { error: errorText(err) });
      }
      // Region health and "the poller runs" for GET /health; written at most once a minute.
      await deps.health.flush({ pollerRan: true });
    }
    for (let top = waiting.peekKey(); top !== undefined && top <= deps.clock().getTime(); top = waiting.peekKey()) {
      const n = waiting.pop()!.item;
      if (live(n)) ready.push(n.e.dueBy, n);
    }
    while (inFlight < opts.concurrency && ready.size > 0) {
      const n = ready.pop()!.item;
      // A stale node: the watch was dropped, re-queued, or is being handled.
      if (!live(n) || (opts.once && !firstRound.has(n.e.key))) continue;
      const e = n.e;
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
    const t = deps.clock().getTime();
    const nextDue = ready.size > 0 ? t : (waiting.peekKey() ?? Number.POSITIVE_INFINITY);
    const until = Math.min(
      opts.once ? Number.POSITIVE_INFINITY : Math.min(nextRefreshAt, opts.endAt),
      opts.hardStopAt,
      inFlight < opts.concurrency && !opts.once ? nextDue : Number.POSITIVE_INFINITY,
    );
    const woken = new Promise<void>((r) => (wake = r));
    if (until === Number.POSITIVE_INFINITY) {
      if (inFlight === 0) break;
      await woken;
    } else if (until > t) {
      // Woken early by a finished poll: cancel the timer rather than leave one behind per wake-up.
      const timer = new AbortController();
      await Promise.race([deps.sleep(until - t, timer.signal), woken]);
      timer.abort();
    } else if (inFlight >= opts.concurrency) {
      await woken;
    }
    wake = null;
  }
  await Promise.all(running);
  delete state.wake;
  await deps.health.flush({ pollerRan: true });

  const end = deps.clock().getTime();
  sum.watches = state.entries.size;
  for (const e of state.entries.values()) {
    if (e.nextAt <= end) sum.deferred++;
    sum.oldestDueAgeS = Math.max(sum.oldestDueAgeS, Math.round((end - e.nextAt) / 1000));
  }
  sum.pollsPerS = end > started ? Math.round((sum.polls / ((end - started) / 1000)) * 10) / 10 : 0;
  return sum;
}
