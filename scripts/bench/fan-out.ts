/**
 * The fan-out on virtual time: 100,000 open watches over 16 shards, APIG
 * answering in 200 ms, the real poller invocation code with in-memory ports.
 * The scheduled invocation reads one shard, plans, and starts the workers
 * that add throughput within APIG_MAX_RPS (here: run in the same virtual
 * time); every minute, for a few minutes, the coordinator in one warm
 * container that measures APIG's latency as deployed. Reports the plan and whether every watch was polled at least once
 * a minute.
 */
import { createPollerState } from "../../lib/app/poll-loop";
import { createCoordinatorMemory, runPollerInvocation, type WorkerPayload } from "../../lib/app/poller-invocation";
import { pollerTiming } from "../../lib/app/timing";
import { startSim } from "../../infra/dev/sim/loop-sim";

export interface FanOutResult {
  watches: number;
  shards: number;
  workers: number;
  minutes: number;
  polls: number;
  /** Largest gap between two polls of one watch, seconds (after its first). */
  maxGapS: number;
  /** Watches polled at least once in every simulated minute. */
  everyMinute: number;
  wallS: number;
}

export async function runFanOut(o: { watches: number; shards: number; minutes: number; apigMaxRps: number; concurrency: number }): Promise<FanOutResult> {
  const wall = Date.now();
  const sim = startSim({ shards: o.shards, latencyMs: 200 });
  // Old watches (past 15 minutes): each wants one poll a minute.
  for (let i = 0; i < o.watches; i++) sim.watch(`w-${i}`, 24 * 60 * 60_000);
  await sim.vt.drive(sim.vt.sleep(20 * 60_000));
  const t0 = sim.vt.now;
  const timing = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });
  const settings = { concurrency: o.concurrency, apigMaxRps: o.apigMaxRps, loopMs: timing.loopMs, reserveMs: timing.reserveMs };
  // One warm container per role: the coordinator's, and one per worker shard.
  const coordinatorState = createPollerState();
  const memory = createCoordinatorMemory();
  const workerStates = new Map<string, ReturnType<typeof createPollerState>>();
  let workers = 0;
  for (let m = 0; m < o.minutes; m++) {
    const start = sim.vt.now;
    const runs: Array<Promise<unknown>> = [];
    const invoker = {
      invoke: async (p: WorkerPayload) => {
        const key = p.shards.join(",");
        if (!workerStates.has(key)) workerStates.set(key, createPollerState());
        runs.push(runPollerInvocation(sim.deps, workerStates.get(key)!, { event: p, remainingMs: timing.lambdaTimeoutS * 1000, settings }));
      },
    };
    const coordinator = runPollerInvocation(sim.deps, coordinatorState, { event: {}, remainingMs: timing.lambdaTimeoutS * 1000, settings, invoker, memory });
    const summary = await sim.vt.drive(coordinator);
    await sim.vt.drive(Promise.all(runs));
    workers = Math.max(workers, summary.workers);
    await sim.vt.drive(sim.vt.sleep(Math.max(0, start + 60_000 - sim.vt.now)));
  }
  let maxGap = 0;
  let everyMinute = 0;
  for (let i = 0; i < o.watches; i++) {
    const asked = (sim.apig.asked.get(`w-${i}`) ?? []).filter((t) => t >= t0);
    for (let k = 1; k < asked.length; k++) maxGap = Math.max(maxGap, asked[k]! - asked[k - 1]!);
    const perMinute = new Set(asked.map((t) => Math.floor((t - t0) / 60_000)));
    if ([...Array(o.minutes).keys()].every((m) => perMinute.has(m))) everyMinute++;
  }
  return {
    watches: o.watches,
    shards: o.shards,
    workers,
    minutes: o.minutes,
    polls: sim.apig.total,
    maxGapS: maxGap / 1000,
    everyMinute,
    wallS: (Date.now() - wall) / 1000,
  };
}
