/**
 * Whether one poller invocation can poll the whole due set within a minute,
 * and if not, how to split it: one worker invocation per shard. Pure.
 *
 * The due set is spread evenly over the shards by a hash of each watch's key,
 * so the coordinator reads one shard, extrapolates, and hands the other
 * shards out before reading them: every shard is still read once a minute.
 */
import { cadenceDelayMs, type CadenceRules } from "../domain/cadence";
import type { DueKey } from "./ports";

export interface FanOutInput {
  shards: string[];
  /** The due keys of `shards[0]`, read by the coordinator. */
  sample: DueKey[];
  now: number;
  cadence: CadenceRules;
  /** APIG queries one invocation can make in its loop: min(max rps, concurrency / latency) x loop seconds. */
  capacityPolls: number;
  /** The length of one invocation's loop. */
  loopMs: number;
}

export interface FanOutPlan {
  /** Shards the coordinator polls itself. */
  self: string[];
  /** One entry per worker invocation: the shards it polls. */
  workers: string[][];
  /** Estimated APIG queries the whole due set needs in one loop. */
  demandPolls: number;
}

/** Polls a watch registered at `createdAt` needs during a loop of `loopMs` (a due key's time is its registration). */
function demandOf(k: DueKey, input: FanOutInput): number {
  return Math.max(1, input.loopMs / cadenceDelayMs(input.now - k.dueAt, input.cadence));
}

export function planFanOut(input: FanOutInput): FanOutPlan {
  const sampled = input.sample.reduce((sum, k) => sum + demandOf(k, input), 0);
  const demandPolls = Math.round(sampled * input.shards.length);
  if (input.shards.length <= 1 || demandPolls <= input.capacityPolls) {
    return { self: input.shards, workers: [], demandPolls };
  }
  const [first, ...rest] = input.shards;
  return { self: first === undefined ? [] : [first], workers: rest.map((s) => [s]), demandPolls };
}
