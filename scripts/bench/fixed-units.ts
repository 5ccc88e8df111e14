/**
 * What the poller's schedule costs in DynamoDB apart from any watch's life:
 * the round record, the shards' sweep records and the health record it
 * writes, and the due-index pickups and record reads it makes. Measured on
 * the wire (capacity proxy, DynamoDB's rules) with the real handler on its
 * schedule, as Lambda runs it (a new container for an invocation that starts
 * while the last still runs):
 * - idle: no open watch, so each invocation ends at once (its wall time is
 *   the bill's idle Lambda duration);
 * - busy: one open watch that never ends, so every minute polls, hands over
 *   and lets its shards go.
 */
import { startCapacityProxy } from "../../infra/dev/capacity-proxy";
import { writeUnits } from "../../infra/dev/capacity-meter";
import { schedulePoller } from "../../infra/dev/local/poller-schedule";
import { pollerTiming } from "../../lib/app/timing";
import { createPollerHandler, type PollerHandler } from "../../lib/platform/poller-handler";
import { handlerEnv, seedRunning, startStack } from "./stack";

export interface FixedUnits {
  /** Per idle invocation: write and read units, and mean wall seconds of the handler. */
  idle: { invocations: number; writeUnits: number; readUnits: number; wallS: number };
  /** Per minute with an open watch: write and read units that belong to no watch's life. */
  busy: { minutes: number; writeUnits: number; readUnits: number };
}

async function run(o: { watches: number; intervalS: number; forMs: number }) {
  const stack = await startStack({ latencyMs: 200 });
  const proxy = await startCapacityProxy(stack.dynamoEndpoint);
  const env = handlerEnv({ ...stack, dynamoEndpoint: proxy.url }, { POLL_INTERVAL_S: String(o.intervalS), APIG_TIMEOUT_MS: "10000", LOG_LEVEL: "ERROR" });
  if (o.watches > 0) await seedRunning(stack, o.watches, { prefix: "fx", ageMs: () => 5 * 60_000, dueShards: 16 });
  proxy.reset();
  const { lambdaTimeoutS } = pollerTiming({ pollIntervalS: o.intervalS, apigTimeoutMs: 10_000 });
  const walls: number[] = [];
  const timed = (h: PollerHandler): PollerHandler =>
    Object.assign(
      async (event: unknown, context: Parameters<PollerHandler>[1]) => {
        const t0 = Date.now();
        try {
          return await h(event, context);
        } finally {
          walls.push((Date.now() - t0) / 1000);
        }
      },
      { stop: () => h.stop() },
    );
  const started = Date.now();
  const polling = schedulePoller({
    first: timed(createPollerHandler(env)),
    more: () => timed(createPollerHandler(env)),
    intervalMs: o.intervalS * 1000,
    lambdaTimeoutS,
    event: { source: "aws.events" },
  });
  await new Promise((r) => setTimeout(r, o.forMs));
  await polling.stop();
  const minutes = (Date.now() - started) / 60_000;
  const t = proxy.totals;
  const out = { invocations: walls.length, minutes, write: writeUnits(t) + t.otherWrite, read: t.read, wallS: walls.reduce((a, b) => a + b, 0) / Math.max(1, walls.length) };
  await proxy.close();
  await stack.close();
  return out;
}

export async function runFixedUnits(o: { busyMinutes: number }): Promise<FixedUnits> {
  // Idle: the schedule at 10 s so a few invocations take seconds; an idle one does the same whatever the interval.
  const idle = await run({ watches: 0, intervalS: 10, forMs: 55_000 });
  const busy = await run({ watches: 1, intervalS: 60, forMs: o.busyMinutes * 60_000 });
  return {
    idle: { invocations: idle.invocations, writeUnits: idle.write / idle.invocations, readUnits: idle.read / idle.invocations, wallS: idle.wallS },
    busy: { minutes: busy.minutes, writeUnits: busy.write / busy.minutes, readUnits: busy.read / busy.minutes },
  };
}
