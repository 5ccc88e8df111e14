/**
 * The poller's Lambda handler, built from the environment; `functions/poller.ts`
 * is one call to it. What a warm container reuses across invocations (the
 * dependencies, the poll loop's state, the self-invoker) is built once, when
 * it runs at module load. Kept apart from the API's handler so neither bundle
 * carries the other's code.
 */
import type { Context } from "aws-lambda";
import { createPollerState, stopPollLoop } from "../app/poll-loop";
import { createCoordinatorMemory, type InvocationSummary, runPollerInvocation } from "../app/poller-invocation";
import { recordTick } from "../app/telemetry";
import { pollerTiming } from "../app/timing";
import { errorText } from "../domain/error-text";
import { lazyDeps, telemetryFrom } from "./bootstrap";
import type { Env } from "./config";
import { selfInvoker } from "./worker-invoker";

export interface PollerHandler {
  (event: unknown, context: Pick<Context, "getRemainingTimeInMillis"> & Partial<Context>): Promise<InvocationSummary>;
  /** Stop the running loop soon (the local stack's shutdown); Lambda never calls it. */
  stop(): void;
}

/** The poller's handler: one scheduled (or fanned-out worker) invocation of the poll loop. */
export function createPollerHandler(env: Env = process.env): PollerHandler {
  const telemetry = telemetryFrom(env);
  const deps = lazyDeps(env, { telemetry });
  // Kept while the container is warm: the next invocation continues each
  // watch's schedule instead of polling everything again.
  const state = createPollerState();
  // APIG latency seen here and when the stray shards were last swept, for the next coordinator invocation.
  const memory = createCoordinatorMemory();
  const invoker = selfInvoker(env);
  const handler = async (event: unknown, context: Pick<Context, "getRemainingTimeInMillis"> & Partial<Context>) => {
    telemetry.log.addContext(context as Context);
    try {
      const d = await deps();
      // A broken configuration must fail the invocation so the error alarm fires.
      if (!d.ok) throw d.error;
      const timing = pollerTiming(d.config);
      const summary = await runPollerInvocation(d.deps, state, {
        event,
        remainingMs: context.getRemainingTimeInMillis(),
        settings: {
          concurrency: d.config.pollConcurrency,
          apigMaxRps: d.config.apigMaxRps,
          loopMs: timing.loopMs,
          reserveMs: timing.reserveMs,
          coverMs: timing.coverMs,
        },
        memory,
        ...(invoker ? { invoker } : {}),
      });
      recordTick(telemetry.metrics, summary);
      if (summary.polls > 0 || summary.deliveryRounds > 0 || summary.errors > 0) {
        telemetry.log.info("poller_invocation", { ...summary, shards: summary.shards.length, backlogByShard: JSON.stringify(summary.backlogByShard) });
      }
      return summary;
    } catch (err) {
      telemetry.log.error("tick_failed", { error: errorText(err) });
      throw err;
    } finally {
      // Per invocation: what it saw leaves before Lambda may freeze the container.
      telemetry.metrics.flush();
    }
  };
  return Object.assign(handler, { stop: () => stopPollLoop(state) });
}
