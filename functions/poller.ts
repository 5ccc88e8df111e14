/** Lambda handler of one scheduled poller tick. */
import type { Context, ScheduledEvent } from "aws-lambda";
import { lazyDeps } from "../lib/platform/bootstrap";
import { tickMetricsLine } from "../lib/platform/metrics";
import { runTick, type TickSummary } from "../lib/app/tick";

const deps = lazyDeps();

export async function handler(_event: ScheduledEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<TickSummary> {
  const d = await deps();
  // A broken configuration must fail the invocation so the error alarm fires.
  if (!d.ok) throw d.error;
  const summary = await runTick(d.deps, {
    remainingMs: () => context.getRemainingTimeInMillis(),
    // Room for the slowest thing a watch can do: an APIG call and a round of notification tries.
    reserveMs: 20_000,
    concurrency: d.config.pollConcurrency,
    // Per due-index shard; raise DUE_SHARDS past a few thousand open watches.
    batchSize: 2_000,
  });
  if (summary.due > 0) d.deps.log.info("tick", { ...summary });
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) {
    process.stdout.write(tickMetricsLine(summary, d.config.serviceName, new Date()) + "\n");
  }
  return summary;
}
