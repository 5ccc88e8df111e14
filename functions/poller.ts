/** Lambda handler of one scheduled poller tick. */
import type { Context, ScheduledEvent } from "aws-lambda";
import { lazyDeps, telemetryFrom } from "../lib/platform/bootstrap";
import { runTick, type TickSummary } from "../lib/app/tick";
import { recordTick } from "../lib/app/telemetry";
import { errorText } from "../lib/domain/error-text";

const telemetry = telemetryFrom();
const deps = lazyDeps(process.env, { telemetry });

export async function handler(_event: ScheduledEvent, context: Pick<Context, "getRemainingTimeInMillis"> & Partial<Context>): Promise<TickSummary> {
  telemetry.log.addContext(context as Context);
  try {
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
    recordTick(telemetry.metrics, summary);
    if (summary.due > 0) telemetry.log.info("tick", { ...summary });
    return summary;
  } catch (err) {
    telemetry.log.error("tick_failed", { error: errorText(err) });
    throw err;
  } finally {
    // Per invocation: what this tick saw leaves before Lambda may freeze the container.
    telemetry.metrics.flush();
  }
}
