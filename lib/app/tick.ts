/** One scheduled poller tick: every shard's due watches, with bounded concurrency. */
import { errorText } from "../domain/error-text";
import { nextDeliveryAt } from "../domain/delivery";
import { isTerminal, type Watch } from "../domain/watch";
import { processWatch, type WatchDeps } from "./process-watch";

export interface TickOptions {
  /** Milliseconds left before the Lambda is stopped. */
  remainingMs: () => number;
  /** Stop taking new watches when less than this is left. */
  reserveMs: number;
  concurrency: number;
  /** Most watches one tick takes from each shard. */
  batchSize: number;
}

export interface TickSummary {
  due: number;
  processed: number;
  transitioned: number;
  conflicts: number;
  errors: number;
  /** Due watches left for the next tick because time ran out. */
  deferred: number;
  /**
   * How far behind the poller is, in seconds: the age of the oldest owed
   * delivery, or of the oldest unfinished watch this tick had no time for.
   * Near 0 while the poller keeps up; an alarm on it catches a backlog.
   */
  oldestDueAgeS: number;
}

/** One scheduled tick: every shard's due watches, with bounded concurrency. */
export async function runTick(deps: WatchDeps, opts: TickOptions): Promise<TickSummary> {
  const start = deps.clock().getTime();
  const summary: TickSummary = { due: 0, processed: 0, transitioned: 0, conflicts: 0, errors: 0, deferred: 0, oldestDueAgeS: 0 };
  const found: Watch[] = [];
  for (const shard of deps.store.dueShards()) found.push(...(await deps.store.due(shard, start, opts.batchSize)));
  // Owed notifications first. Then the unfinished watches in random order:
  // their due_at does not move on a poll without news (that would be a
  // write), so a fixed order would, under overload, starve the same watches
  // tick after tick.
  const queue = [...found.filter((w) => isTerminal(w.status)), ...shuffle(found.filter((w) => !isTerminal(w.status)), deps.random)];
  summary.due = queue.length;

  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      if (opts.remainingMs() < opts.reserveMs) return;
      const w = queue[next++]!;
      try {
        const r = await processWatch(deps, w);
        summary.processed++;
        if (r.outcome === "transitioned") summary.transitioned++;
        if (r.outcome === "conflict") summary.conflicts++;
      } catch (err) {
        summary.errors++;
        deps.log.error("watch_failed", {
          task_id: w.task_id,
          error: errorText(err),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, worker));
  summary.deferred = queue.length - summary.processed - summary.errors;
  queue.forEach((w, i) => {
    const owed = nextDeliveryAt(w);
    // An unfinished watch is late only when this tick could not get to it.
    const since = owed ?? (i >= next ? Date.parse(w.updated_at) : start);
    summary.oldestDueAgeS = Math.max(summary.oldestDueAgeS, Math.round((start - since) / 1000));
  });
  // For GET /health in the API's process: throttled to a write a minute per region.
  await deps.health.flush({ pollerRan: true });
  return summary;
}

/** Fisher-Yates, with the injected random source. */
function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
