/**
 * The poller on the deployed schedule, in one process: an invocation every
 * interval, and, as Lambda does, an invocation that starts while another
 * still runs gets another container (another handler, with its own memory)
 * rather than being skipped. Invocations overlap by design: each polls until
 * its successor has taken over (`lib/app/handover.ts`).
 */
import type { PollerHandler } from "../../../lib/platform/poller-handler";

export interface LocalPollerSchedule {
  /** Stop scheduling, stop every running loop, and wait for them. */
  stop(): Promise<void>;
}

export function schedulePoller(o: {
  /** The first container's handler; more are made with `more()` when every one is busy. */
  first: PollerHandler;
  more: () => PollerHandler;
  intervalMs: number;
  lambdaTimeoutS: number;
  event?: unknown;
  onError?: (err: unknown) => void;
  onSummary?: (s: Awaited<ReturnType<PollerHandler>>) => void;
}): LocalPollerSchedule {
  const containers: Array<{ handler: PollerHandler; running: Promise<unknown> | null }> = [{ handler: o.first, running: null }];
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    let c = containers.find((x) => x.running === null);
    if (!c) containers.push((c = { handler: o.more(), running: null }));
    const started = Date.now();
    const container = c;
    container.running = container
      .handler(o.event ?? {}, { getRemainingTimeInMillis: () => o.lambdaTimeoutS * 1000 - (Date.now() - started) })
      .then((s) => o.onSummary?.(s))
      .catch((err: unknown) => o.onError?.(err))
      .finally(() => {
        container.running = null;
      });
  };
  const timer = setInterval(tick, o.intervalMs);
  // At once too: work left by the last run, and /health, should not wait a whole interval.
  tick();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const c of containers) c.handler.stop();
      await Promise.all(containers.map((c) => c.running));
    },
  };
}
