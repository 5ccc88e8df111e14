/**
 * Poll throughput of one invocation against the simulator with a fixed APIG
 * latency: young watches (which want a poll every 2 s) far outnumber what
 * `concurrency / latency` allows, so the loop runs saturated; the figure is
 * APIG queries per second against that Little's-law bound. The rate cap is
 * lifted so that only concurrency and latency limit it.
 */
import { createPollerState, runPollLoop } from "../../lib/app/poll-loop";
import { loadConfig } from "../../lib/platform/config";
import { buildDeps } from "../../lib/platform/runtime";
import { createLogger } from "../../lib/aws/log";
import { handlerEnv, seedRunning, startStack } from "./stack";

export interface ThroughputResult {
  watches: number;
  concurrency: number;
  latencyMs: number;
  boundRps: number;
  pollsPerS: number;
  ratio: number;
  /** Seconds until every watch had its first poll (item reads included). */
  firstRoundS: number;
}

export async function runThroughput(o: { watches: number; concurrency: number; latencyMs: number; seconds: number }): Promise<ThroughputResult> {
  const stack = await startStack({ latencyMs: o.latencyMs });
  const shards = 16;
  await seedRunning(stack, o.watches, { prefix: "t", ageMs: () => 0, dueShards: shards });
  const config = loadConfig(
    handlerEnv(stack, { POLL_CONCURRENCY: String(o.concurrency), APIG_MAX_RPS: "10000", DUE_SHARDS: String(shards), APIG_TIMEOUT_MS: "10000" }),
  );
  const deps = buildDeps(config, { log: createLogger({ serviceName: "bench", logLevel: "ERROR" }) });
  const start = Date.now();
  const loop = runPollLoop(deps, createPollerState(), {
    shards: deps.store.dueShards(),
    endAt: start + o.seconds * 1000,
    hardStopAt: start + o.seconds * 1000 + 30_000,
    concurrency: o.concurrency,
    maxRps: 10_000,
    fullReadEveryMs: 60_000,
    pickupEveryMs: 5_000,
    pickupOverlapMs: 5_000,
  });
  await loop;
  // The steady state: after every watch had its first poll (which also reads
  // the item from the table once), until the loop's end.
  const gets = stack.sim.requests.filter((r) => r.method === "GET");
  const seen = new Set<string>();
  let from = start;
  for (const r of gets) {
    seen.add(r.path);
    if (seen.size === o.watches) {
      from = r.at;
      break;
    }
  }
  const to = start + o.seconds * 1000;
  if (to - from < 10_000) throw new Error(`only ${Math.round((to - from) / 1000)} s of steady state: run longer than ${o.seconds} s`);
  const queries = gets.filter((r) => r.at >= from && r.at < to).length;
  const pollsPerS = queries / ((to - from) / 1000);
  const boundRps = o.concurrency / (o.latencyMs / 1000);
  await stack.close();
  return { watches: o.watches, concurrency: o.concurrency, latencyMs: o.latencyMs, boundRps, pollsPerS, ratio: pollsPerS / boundRps, firstRoundS: (from - start) / 1000 };
}
