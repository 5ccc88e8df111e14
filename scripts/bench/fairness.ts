/**
 * Fairness as Lambda runs the poller: every scheduled invocation (and every
 * worker it starts) on a fresh container that remembers nothing, at the
 * shipped settings (APIG_MAX_RPS 200, POLL_CONCURRENCY 64, 16 shards, 58 s
 * loop), APIG answering in 200 ms, old never-ending watches (one poll a
 * minute each). Virtual time, the real invocation code, in-memory ports.
 * Reports what one minute of invocations polls, how many invocations it
 * takes until every watch has been polled, and the backlog the invocations
 * report against the true oldest gap.
 */
import { simLoopDeps } from "../../infra/dev/sim/loop-sim";
import { createPollerState } from "../../lib/app/poll-loop";
import { EXPECTED_APIG_LATENCY_MS } from "../../lib/app/fan-out";
import { runPollerInvocation, type WorkerPayload } from "../../lib/app/poller-invocation";
import { pollerTiming } from "../../lib/app/timing";
import { newWatch } from "../../lib/app/register";
import { FakeApig } from "../../infra/dev/sim/fake-apig";
import { MemoryRepository } from "../../infra/dev/sim/memory-repository";
import { VirtualTime } from "../../infra/dev/sim/virtual-time";

/** The loop's deps on virtual time with in-memory ports (scripts do not import the tests' harness). */
function simulation(shards: number, latencyMs: number) {
  const vt = new VirtualTime();
  const store = new MemoryRepository(shards);
  const apig = new FakeApig(vt, latencyMs);
  const deps = simLoopDeps({ store, apig, sender: { send: async () => ({ ok: true, status: 200 }) }, clock: vt.clock, sleep: vt.sleep });
  const watch = (taskId: string) => {
    apig.tasks.set(taskId, { endsAt: Number.POSITIVE_INFINITY });
    const w = newWatch(
      "acme",
      { project_id: "p", instance_id: "i", task_id: taskId, region: "eu-de", targets: [], labels: {}, timeout_s: 86_400 },
      vt.clock(),
    );
    store.seed({ ...w, status: "processing", task_type: "import_api", history: [...w.history, { status: "processing", at: w.created_at }] });
  };
  return { vt, store, apig, deps, watch };
}

export interface FairnessResult {
  watches: number;
  apigMaxRps: number;
  minutes: number;
  /** APIG polls per minute, median over the minutes. */
  pollsPerMinute: number;
  /** Worker invocations started a minute (the most in any minute). */
  workers: number;
  /** Invocations (minutes) until every watch had been polled at least once; null if not within the run. */
  allPolledWithin: number | null;
  /** ceil(open / polls a minute) + 1: the promise. */
  bound: number;
  /** Watches polled in every minute of the run. */
  everyMinute: number;
  /** Largest gap between two polls of one watch (its registration counting as the first), or until the run's end, seconds. */
  trueOldestGapS: number;
  /** The backlog the last minute's coordinator reported (OldestDueAgeSeconds), seconds. */
  reportedBacklogS: number;
  /** The true backlog when it reported: how long past its minute the most overdue watch was, seconds. */
  trueBacklogS: number;
  wallS: number;
}

export async function runFairness(o: { watches: number; minutes: number; apigMaxRps: number; concurrency: number; shards: number }): Promise<FairnessResult> {
  const wall = Date.now();
  const sim = simulation(o.shards, 200);
  const registeredAt = sim.vt.now;
  for (let i = 0; i < o.watches; i++) sim.watch(`w-${i}`);
  // Old watches, each polled last at its registration (its own first query).
  await sim.vt.drive(sim.vt.sleep(20 * 60_000));
  const t0 = sim.vt.now;
  const timing = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });
  const settings = { concurrency: o.concurrency, apigMaxRps: o.apigMaxRps, loopMs: timing.loopMs, reserveMs: timing.reserveMs };
  const perMinute: number[] = [];
  let workers = 0;
  let reported = 0;
  let trueBacklog = 0;
  for (let m = 0; m < o.minutes; m++) {
    const start = sim.vt.now;
    const before = sim.apig.total;
    const runs: Array<Promise<unknown>> = [];
    // Fresh containers: a new state for the coordinator and for every worker, every minute.
    const invoker = {
      invoke: async (p: WorkerPayload) => {
        runs.push(runPollerInvocation(sim.deps, createPollerState(), { event: p, remainingMs: timing.lambdaTimeoutS * 1000, settings }));
      },
    };
    const coordinator = runPollerInvocation(sim.deps, createPollerState(), { event: {}, remainingMs: timing.lambdaTimeoutS * 1000, settings, invoker });
    const summary = await sim.vt.drive(coordinator);
    await sim.vt.drive(Promise.all(runs));
    workers = Math.max(workers, summary.workers);
    reported = summary.oldestDueAgeS;
    // The truth at the same moment: how long past its minute the most overdue watch is.
    trueBacklog = 0;
    for (let i = 0; i < o.watches; i++) {
      const last = (sim.apig.asked.get(`w-${i}`) ?? []).findLast((t) => t <= sim.vt.now) ?? registeredAt;
      trueBacklog = Math.max(trueBacklog, sim.vt.now - (last + 60_000));
    }
    perMinute.push(sim.apig.total - before);
    await sim.vt.drive(sim.vt.sleep(Math.max(0, start + 60_000 - sim.vt.now)));
  }
  const end = sim.vt.now;
  let allPolledAt = t0;
  let missing = false;
  let oldestGap = 0;
  let everyMinute = 0;
  for (let i = 0; i < o.watches; i++) {
    const asked = (sim.apig.asked.get(`w-${i}`) ?? []).filter((t) => t >= t0);
    if (asked.length === 0) missing = true;
    else allPolledAt = Math.max(allPolledAt, asked[0]!);
    // From its registration (its own first query): the last poll it really had before the run.
    const points = [registeredAt, ...asked, end];
    for (let k = 1; k < points.length; k++) oldestGap = Math.max(oldestGap, points[k]! - points[k - 1]!);
    const minutes = new Set(asked.map((t) => Math.floor((t - t0) / 60_000)));
    if ([...Array(o.minutes).keys()].every((m) => minutes.has(m))) everyMinute++;
  }
  const sorted = [...perMinute].sort((a, b) => a - b);
  const pollsPerMinute = sorted[Math.floor(sorted.length / 2)]!;
  return {
    watches: o.watches,
    apigMaxRps: o.apigMaxRps,
    minutes: o.minutes,
    pollsPerMinute,
    workers,
    allPolledWithin: missing ? null : Math.floor((allPolledAt - t0) / 60_000) + 1,
    bound: Math.ceil(o.watches / Math.max(1, Math.min(...perMinute))) + 1,
    everyMinute,
    trueOldestGapS: Math.round(oldestGap / 1000),
    reportedBacklogS: reported,
    trueBacklogS: Math.max(0, Math.round(trueBacklog / 1000)),
    wallS: (Date.now() - wall) / 1000,
  };
}

/** What one invocation can poll a minute at a rate, as the fan-out plans it (for the README's capacity line). */
export function plannedPollsPerMinute(apigMaxRps: number, concurrency: number, loopMs: number): number {
  return Math.round(Math.min(apigMaxRps, (concurrency * 1000) / EXPECTED_APIG_LATENCY_MS) * (loopMs / 1000));
}
