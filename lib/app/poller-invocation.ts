/**
 * One invocation of the poller: as the scheduled coordinator it decides
 * whether worker invocations would add throughput (`fan-out.ts`) and starts
 * them if so, and moves entries left in shards a lowered `DUE_SHARDS` no
 * longer reads (`due-shards.ts`); as a worker it polls the shards it was
 * given. Either way it then runs the poll loop for its share. A worker that
 * cannot be started is counted and its shards are polled by the coordinator.
 */
import * as z from "../domain/zod";
import { errorText } from "../domain/error-text";
import { sweepStrayShards } from "./due-shards";
import { EXPECTED_APIG_LATENCY_MS, LatencyMeter, planFanOut } from "./fan-out";
import { type LoopDeps, type LoopSummary, type PollerState, runPollLoop } from "./poll-loop";
import type { DueKey, TaskQuery } from "./ports";

/** What a worker invocation is asked to do; anything else is a scheduled (coordinator) invocation. */
export const WorkerPayload = z.object({
  kind: z.literal("poll-shards"),
  shards: z.array(z.string().check(z.regex(/^S#\d{1,3}$/))).check(z.minLength(1), z.maxLength(64)),
  /** This worker's share of the per-region APIG rate. */
  maxRps: z.number().check(z.positive()),
});
export type WorkerPayload = z.infer<typeof WorkerPayload>;

/** Starts a worker invocation (asynchronously: it does not wait for the worker to finish), retrying as it sees fit; throws when it could not. */
export interface WorkerInvoker {
  invoke(payload: WorkerPayload): Promise<unknown>;
}

export interface InvocationSettings {
  concurrency: number;
  /** `APIG_MAX_RPS` for the whole deployment. */
  apigMaxRps: number;
  /** From `app/timing.ts`. */
  loopMs: number;
  reserveMs: number;
}

/** What a container remembers for its next coordinator invocation. */
export interface CoordinatorMemory {
  /** APIG answer times seen here, for sizing the fan-out. */
  latency: LatencyMeter;
  /** When this container last swept the shards beyond `DUE_SHARDS`. */
  strayShardsSweptAt: number | null;
}

export function createCoordinatorMemory(): CoordinatorMemory {
  return { latency: new LatencyMeter(), strayShardsSweptAt: null };
}

/** A warm container sweeps the shards beyond `DUE_SHARDS` this often (a fresh one at once). */
export const STRAY_SWEEP_EVERY_MS = 10 * 60_000;

export interface InvocationSummary extends LoopSummary {
  role: "coordinator" | "worker";
  shards: string[];
  /** Worker invocations started. */
  workers: number;
  /** Worker invocations that could not be started after every retry (their shards were polled here). */
  workersFailed: number;
  /** Due entries moved out of shards beyond `DUE_SHARDS`. */
  resharded: number;
}

/**
 * Run one invocation.
 * @param event the Lambda event: a {@link WorkerPayload} for a worker, anything else for the schedule
 * @param remainingMs the Lambda's time left, at the start
 */
export async function runPollerInvocation(
  deps: LoopDeps,
  state: PollerState,
  input: { event: unknown; remainingMs: number; settings: InvocationSettings; invoker?: WorkerInvoker; memory?: CoordinatorMemory },
): Promise<InvocationSummary> {
  const { settings } = input;
  const start = deps.clock().getTime();
  const all = deps.store.dueShards();
  const worker = WorkerPayload.safeParse(input.event);
  const memory = input.memory;
  const loopDeps = memory ? { ...deps, apig: timed(deps.apig, memory.latency, deps.clock) } : deps;

  let shards = all;
  let maxRps = settings.apigMaxRps;
  let workers = 0;
  let workersFailed = 0;
  let resharded = 0;
  let preread: Map<string, { keys: DueKey[]; at: number }> | undefined;

  if (worker.success) {
    shards = worker.data.shards.filter((s) => all.includes(s));
    maxRps = worker.data.maxRps;
  } else {
    const sweep = memory === undefined || memory.strayShardsSweptAt === null || start - memory.strayShardsSweptAt >= STRAY_SWEEP_EVERY_MS;
    // Before anything is read, so what it moves is polled in this invocation.
    if (sweep) {
      resharded = await sweepStrayShards(deps.store, deps.log);
      if (memory) memory.strayShardsSweptAt = start;
    }
    const sampledAt = deps.clock().getTime();
    const sample = input.invoker && all.length > 1 ? await readSample(deps, all[0]!, sampledAt) : null;
    if (sample !== null && input.invoker) {
      const first = all[0]!;
      preread = new Map([[first, { keys: sample, at: sampledAt }]]);
      const plan = planFanOut({
        shards: all,
        sample,
        now: sampledAt,
        cadence: deps.cadence,
        loopMs: settings.loopMs,
        concurrency: settings.concurrency,
        apigMaxRps: settings.apigMaxRps,
        apigLatencyMs: memory?.latency.estimateMs() ?? EXPECTED_APIG_LATENCY_MS,
      });
      if (plan.workers.length > 0) {
        // Each invocation gets the region's rate in proportion to its shards.
        const share = (n: number) => (settings.apigMaxRps * n) / all.length;
        const invoker = input.invoker;
        const results = await Promise.allSettled(plan.workers.map((s) => invoker.invoke({ kind: "poll-shards", shards: s, maxRps: share(s.length) })));
        shards = [...plan.self];
        results.forEach((r, i) => {
          if (r.status === "fulfilled") return workers++;
          // Polled here rather than not at all this minute; should the invoke have
          // gone through after all, two invocations poll those shards: every write is conditional.
          workersFailed++;
          shards.push(...plan.workers[i]!);
          deps.log.error("worker_start_failed", { shards: plan.workers[i]!.join(","), error: errorText(r.reason) });
        });
        maxRps = share(shards.length);
        deps.log.info("poller_fan_out", {
          workers,
          workers_failed: workersFailed,
          demand_polls: plan.demandPolls,
          per_invocation_rps: Math.round(plan.perInvocationRps),
          sampled: sample.length,
        });
      }
    }
  }

  const summary = await runPollLoop(loopDeps, state, {
    shards,
    endAt: start + settings.loopMs,
    hardStopAt: start + input.remainingMs - settings.reserveMs,
    concurrency: settings.concurrency,
    maxRps,
    fullReadEveryMs: 60_000,
    pickupEveryMs: 5_000,
    pickupOverlapMs: 5_000,
    ...(preread ? { preread } : {}),
    // The coordinator reports every shard's backlog, from the stored sweep records of those it handed out.
    ...(worker.success ? {} : { reportShards: all }),
  });
  return { ...summary, role: worker.success ? "worker" : "coordinator", shards, workers, workersFailed, resharded };
}

/** The coordinator's read of its first shard, for the plan; null (no fan-out, the loop reads it) when the index does not answer. */
async function readSample(deps: LoopDeps, shard: string, at: number): Promise<DueKey[] | null> {
  try {
    return await deps.store.dueKeys(shard, { upTo: at });
  } catch (err) {
    deps.log.error("due_read_failed", { shard, error: errorText(err) });
    return null;
  }
}

/** The APIG query, timing each answer it gets for the next fan-out plan. */
function timed(apig: TaskQuery, meter: LatencyMeter, clock: () => Date): TaskQuery {
  return {
    async queryTask(ref) {
      const sentAt = clock().getTime();
      const o = await apig.queryTask(ref);
      if (o.ok || o.http_status !== null) meter.observe(clock().getTime() - sentAt);
      return o;
    },
  };
}
