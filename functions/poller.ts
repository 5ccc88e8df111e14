/** Lambda handler of the poller: one scheduled (or fanned-out worker) invocation of the poll loop. */
import type { Context } from "aws-lambda";
import { createPollerState, stopPollLoop } from "../lib/app/poll-loop";
import { type InvocationSummary, runPollerInvocation, type WorkerInvoker } from "../lib/app/poller-invocation";
import { recordTick } from "../lib/app/telemetry";
import { errorText } from "../lib/domain/error-text";
import { lazyDeps, telemetryFrom } from "../lib/platform/bootstrap";
import { lambdaEnvCredentials, lambdaInvoker } from "../lib/aws/lambda-invoke";
import { Agent } from "../lib/net/undici";
import { pollerTiming } from "../lib/app/timing";

const telemetry = telemetryFrom();
const deps = lazyDeps(process.env, { telemetry });
// Kept while the container is warm: the next invocation continues each
// watch's schedule instead of polling everything again.
const state = createPollerState();

/** Async invocations of this same function, one per worker (the role may invoke only itself). */
function selfInvoker(): WorkerInvoker | undefined {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const aws = lambdaEnvCredentials(process.env);
  if (!name || !aws) return undefined;
  const invoke = lambdaInvoker({ functionName: name, ...aws, dispatcher: new Agent({ connections: 16 }) });
  return { invoke };
}
const invoker = selfInvoker();

/** Stop the running loop soon (the local stack's shutdown); Lambda never calls it. */
export function stopPolling(): void {
  stopPollLoop(state);
}

export async function handler(
  event: unknown,
  context: Pick<Context, "getRemainingTimeInMillis"> & Partial<Context>,
): Promise<InvocationSummary> {
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
      },
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
}
