/**
 * One invocation of the poller: as the scheduled coordinator it decides
 * whether the due set needs more than itself (`fan-out.ts`) and starts one
 * worker invocation per shard if so; as a worker it polls the shards it was
 * given. Either way it then runs the poll loop for its share.
 */
import * as z from "../domain/zod";
import { planFanOut } from "./fan-out";
import { type LoopDeps, type LoopSummary, type PollerState, runPollLoop } from "./poll-loop";

/** What a worker invocation is asked to do; anything else is a scheduled (coordinator) invocation. */
export const WorkerPayload = z.object({
  kind: z.literal("poll-shards"),
  shards: z.array(z.string().check(z.regex(/^S#\d{1,3}$/))).check(z.minLength(1), z.maxLength(64)),
  /** This worker's share of the per-region APIG rate. */
  maxRps: z.number().check(z.positive()),
});
export type WorkerPayload = z.infer<typeof WorkerPayload>;

/** Starts a worker invocation (asynchronously: it does not wait for the worker to finish). */
export interface WorkerInvoker {
  invoke(payload: WorkerPayload): Promise<void>;
}

/** Assumed APIG latency when sizing an invocation's capacity: measured p50 was 200 ms, with headroom. */
export const EXPECTED_APIG_LATENCY_MS = 250;

export interface InvocationSettings {
  concurrency: number;
  /** `APIG_MAX_RPS` for the whole deployment. */
  apigMaxRps: number;
  /** From `platform/timing.ts`. */
  loopMs: number;
  reserveMs: number;
}

export interface InvocationSummary extends LoopSummary {
  role: "coordinator" | "worker";
  shards: string[];
  /** Worker invocations started. */
  workers: number;
}

/**
 * Run one invocation.
 * @param event the Lambda event: a {@link WorkerPayload} for a worker, anything else for the schedule
 * @param remainingMs the Lambda's time left, at the start
 */
export async function runPollerInvocation(
  deps: LoopDeps,
  state: PollerState,
  input: { event: unknown; remainingMs: number; settings: InvocationSettings; invoker?: WorkerInvoker },
): Promise<InvocationSummary> {
  const { settings } = input;
  const start = deps.clock().getTime();
  const all = deps.store.dueShards();
  const worker = WorkerPayload.safeParse(input.event);

  let shards = all;
  let maxRps = settings.apigMaxRps;
  let workers = 0;
  let preread: Map<string, { keys: Awaited<ReturnType<LoopDeps["store"]["dueKeys"]>>; at: number }> | undefined;

  if (worker.success) {
    shards = worker.data.shards.filter((s) => all.includes(s));
    maxRps = worker.data.maxRps;
  } else if (input.invoker && all.length > 1) {
    const first = all[0]!;
    const sample = await deps.store.dueKeys(first, { upTo: start });
    preread = new Map([[first, { keys: sample, at: start }]]);
    const perSecond = Math.min(settings.apigMaxRps, (settings.concurrency * 1000) / EXPECTED_APIG_LATENCY_MS);
    const plan = planFanOut({
      shards: all,
      sample,
      now: start,
      cadence: deps.cadence,
      capacityPolls: perSecond * (settings.loopMs / 1000),
      loopMs: settings.loopMs,
    });
    if (plan.workers.length > 0) {
      // Each invocation gets the region's rate in proportion to its shards.
      const share = (n: number) => (settings.apigMaxRps * n) / all.length;
      const invoker = input.invoker;
      await Promise.all(plan.workers.map((s) => invoker.invoke({ kind: "poll-shards", shards: s, maxRps: share(s.length) })));
      workers = plan.workers.length;
      shards = plan.self;
      maxRps = share(plan.self.length);
      deps.log.info("poller_fan_out", { workers, demand_polls: plan.demandPolls, sampled: sample.length });
    }
  }

  const summary = await runPollLoop(deps, state, {
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
  return { ...summary, role: worker.success ? "worker" : "coordinator", shards, workers };
}
