/**
 * One invocation of the poller: as the scheduled coordinator it decides
 * whether worker invocations would add throughput (`fan-out.ts`) and starts
 * them if so, and moves entries left in shards a lowered `DUE_SHARDS` no
 * longer reads (`due-shards.ts`); as a worker it polls the shards it was
 * given. Either way it then runs the poll loop for its share. A worker that
 * cannot be started is counted and its shards are polled by the coordinator.
 * With `coverMs` set, the scheduled invocation starts a new poll round, and
 * every invocation of it takes over from the round before and hands over to
 * the next (`handover.ts`).
 */
import * as z from "../domain/zod";
import { errorText } from "../domain/error-text";
import { sweepStrayShards } from "./due-shards";
import { EXPECTED_APIG_LATENCY_MS, LatencyMeter, planFanOut } from "./fan-out";
import type { HandoverOptions } from "./handover";
import { type LoopDeps, type LoopSummary, type PollerState, runPollLoop } from "./poll-loop";
import type { DueKey, PollRound, TaskQuery } from "./ports";
import { HANDOVER_CHECK_MS, HANDOVER_WAIT_MS, SUCCESSOR_EARLY_MS } from "./timing";

const Round = z.object({ round: z.number(), coverUntil: z.number(), ended: z.optional(z.boolean()) });

/** What a worker invocation is asked to do; anything else is a scheduled (coordinator) invocation. */
export const WorkerPayload = z.object({
  kind: z.literal("poll-shards"),
  shards: z.array(z.string().check(z.regex(/^S#\d{1,3}$/))).check(z.minLength(1), z.maxLength(64)),
  /** This worker's share of the per-region APIG rate. */
  maxRps: z.number().check(z.positive()),
  /** The coordinator's poll round and the one before (`handover.ts`). */
  handover: z.optional(z.object({ round: Round, previous: z.nullable(Round) })),
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
  /** From `app/timing.ts`: with it, invocations hand over to each other (`handover.ts`); without, each loop ends at `loopMs`. */
  coverMs?: number;
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

  let handover: { round: PollRound; previous: PollRound | null } | undefined;
  if (worker.success) {
    shards = worker.data.shards.filter((s) => all.includes(s));
    maxRps = worker.data.maxRps;
    handover = worker.data.handover;
  } else {
    if (settings.coverMs !== undefined) handover = await startRound(deps, start, settings.coverMs);
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
        const results = await Promise.allSettled(
          plan.workers.map((s) => invoker.invoke({ kind: "poll-shards", shards: s, maxRps: share(s.length), ...(handover ? { handover } : {}) })),
        );
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

  // The round before looks for its successor from SUCCESSOR_EARLY_MS before its period ends: before that, it is not waited for.
  const looksFrom = handover?.previous ? handover.previous.round + settings.loopMs - SUCCESSOR_EARLY_MS : 0;
  const ho: HandoverOptions | undefined = handover && {
    ...handover,
    waitUntil: start < looksFrom ? start : start + HANDOVER_WAIT_MS,
    checkFrom: handover.round.round + settings.loopMs - SUCCESSOR_EARLY_MS,
    checkEveryMs: HANDOVER_CHECK_MS,
    mayEndRound: !worker.success && workers === 0,
  };
  const summary = await runPollLoop(loopDeps, state, {
    shards,
    endAt: ho ? ho.round.coverUntil : start + settings.loopMs,
    ...(ho ? { handover: ho } : {}),
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

/**
 * A scheduled invocation's new poll round, and the one before, which it
 * takes over from. If the round cannot be read it waits for nobody; if it
 * cannot be written the predecessor polls until its cover ends: either way
 * polling goes on.
 */
async function startRound(deps: LoopDeps, start: number, coverMs: number): Promise<{ round: PollRound; previous: PollRound | null }> {
  const round = { round: start, coverUntil: start + coverMs };
  let previous: PollRound | null = null;
  try {
    previous = await deps.store.readRound();
  } catch (err) {
    deps.log.error("round_read_failed", { error: errorText(err) });
  }
  try {
    await deps.store.startRound(round);
  } catch (err) {
    deps.log.error("round_write_failed", { error: errorText(err) });
  }
  return { round, previous: previous !== null && previous.round < start ? previous : null };
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
