/**
 * Whether worker invocations add throughput, and if so how many and which
 * shards each polls. Pure.
 *
 * A worker is worth starting only when the invocations already planned
 * cannot use the APIG budget: one invocation makes at most
 * `concurrency / latency` queries a second, and the whole deployment at most
 * `APIG_MAX_RPS` per region. At the shipped settings (64 in flight, about
 * 250 ms an answer: 256 a second, against 200) one invocation already reaches
 * the rate cap, so there are never workers: they would only split the same
 * budget and cost Lambda time. With a slower APIG or a higher cap, the
 * number of invocations is the smallest that covers the demand, and never
 * more than the cap can feed.
 *
 * The due set is spread evenly over the shards by a hash of each watch's key,
 * so the coordinator reads one shard, extrapolates the demand, and hands the
 * other shards out before reading them.
 */
import { cadenceDelayMs, type CadenceRules } from "../domain/cadence";
import type { DueKey } from "./ports";

/** Assumed APIG latency when nothing was measured yet: measured p50 was 200 ms, with headroom. */
export const EXPECTED_APIG_LATENCY_MS = 250;

export interface FanOutInput {
  shards: string[];
  /** The due keys of `shards[0]`, read by the coordinator. */
  sample: DueKey[];
  now: number;
  cadence: CadenceRules;
  /** The length of one invocation's loop. */
  loopMs: number;
  /** APIG queries in flight at once in one invocation (`POLL_CONCURRENCY`). */
  concurrency: number;
  /** APIG queries per second per region for the whole deployment (`APIG_MAX_RPS`). */
  apigMaxRps: number;
  /** Typical APIG answer time: measured by this container, else {@link EXPECTED_APIG_LATENCY_MS}. */
  apigLatencyMs: number;
}

export interface FanOutPlan {
  /** Shards the coordinator polls itself (always includes `shards[0]`). */
  self: string[];
  /** One entry per worker invocation: the shards it polls. */
  workers: string[][];
  /** Estimated APIG queries the whole due set needs in one loop. */
  demandPolls: number;
  /** Queries per second one invocation can make at the latency assumed. */
  perInvocationRps: number;
  /** Invocations beyond which the rate cap, not the invocations, limits throughput. */
  usefulInvocations: number;
}

/** Polls a watch registered at `dueAt` needs during a loop of `loopMs` (a due key's time is its registration). */
function demandOf(k: DueKey, input: FanOutInput): number {
  return Math.max(1, input.loopMs / cadenceDelayMs(input.now - k.dueAt, input.cadence));
}

export function planFanOut(input: FanOutInput): FanOutPlan {
  const sampled = input.sample.reduce((sum, k) => sum + demandOf(k, input), 0);
  const demandPolls = Math.round(sampled * input.shards.length);
  const perInvocationRps = (input.concurrency * 1000) / Math.max(1, input.apigLatencyMs);
  // Each invocation gets an equal share of the cap; one more only helps while
  // the shares still exceed what one invocation can make.
  const usefulInvocations = Math.max(1, Math.ceil(input.apigMaxRps / perInvocationRps - 1e-9));
  // Each invocation polls whole shards, and its share of the cap grows with
  // them, so what binds is the largest group against one invocation's own
  // ceiling: 16 shards over 7 invocations put 3 shards on some of them.
  const perShard = demandPolls / Math.max(1, input.shards.length);
  const perInvocationPolls = perInvocationRps * (input.loopMs / 1000);
  const largestGroup = (n: number) => Math.ceil(input.shards.length / n) * perShard;
  let n = 1;
  while (n < usefulInvocations && n < input.shards.length && largestGroup(n) > perInvocationPolls) n++;
  // Round-robin keeps the groups within one shard of each other; group 0 holds shards[0], which the coordinator has read.
  const groups: string[][] = Array.from({ length: n }, () => []);
  input.shards.forEach((s, i) => groups[i % n]!.push(s));
  const [self = [], ...workers] = groups;
  return { self, workers, demandPolls, perInvocationRps, usefulInvocations };
}

/**
 * APIG answer time as this container has seen it (exponentially weighted),
 * for the next plan; a fresh container has none and assumes
 * {@link EXPECTED_APIG_LATENCY_MS}. Only answers count: a timeout measures the
 * network's patience, not what another invocation would add.
 */
export class LatencyMeter {
  private ewma: number | null = null;

  observe(ms: number): void {
    this.ewma = this.ewma === null ? ms : this.ewma + 0.05 * (ms - this.ewma);
  }

  estimateMs(): number {
    return this.ewma ?? EXPECTED_APIG_LATENCY_MS;
  }
}
