/**
 * Fan-out on virtual time with in-memory ports: workers only where they add
 * throughput within the APIG budget, invokes retried with backoff, and the
 * coordinator polling its shards (and a failed worker's) whatever the invokes do.
 */
import { describe, expect, it } from "vitest";
import { EXPECTED_APIG_LATENCY_MS, planFanOut } from "../../lib/app/fan-out";
import { createPollerState } from "../../lib/app/poll-loop";
import { createCoordinatorMemory, type InvocationSettings, runPollerInvocation, type WorkerPayload } from "../../lib/app/poller-invocation";
import { recordTick } from "../../lib/app/telemetry";
import { LambdaInvokeError, withInvokeRetry } from "../../lib/aws/lambda-invoke";
import { createMetrics } from "../../lib/aws/metrics";
import { DEFAULT_CADENCE } from "../../lib/domain/cadence";
import { shardOf } from "../../lib/store/item-codec";
import { seeded, type Sim, startSim } from "../../infra/dev/sim/loop-sim";

const S = 1000;
/** The shipped settings (serverless.yml): 64 in flight, 200 queries a second per region. */
const SHIPPED = { concurrency: 64, apigMaxRps: 200 };

/** `n` watches past their first 15 minutes (one poll a minute each), over `shards`. */
async function oldWatches(n: number, o: { shards: number; latencyMs?: number }): Promise<Sim> {
  const sim = startSim({ shards: o.shards, ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}) });
  for (let i = 0; i < n; i++) sim.watch(`w-${i}`, 24 * 60 * 60 * S);
  await sim.vt.drive(sim.vt.sleep(20 * 60 * S));
  return sim;
}

const sample = (n: number, now: number) => Array.from({ length: n }, (_, i) => ({ tenant: "t", taskId: `k${i}`, dueAt: now - 3_600_000 }));
const plan = (o: { concurrency: number; apigMaxRps: number; latencyMs?: number; sampled: number; shards?: number }) => {
  const now = Date.parse("2026-12-01T10:00:00Z");
  return planFanOut({
    shards: Array.from({ length: o.shards ?? 16 }, (_, i) => `S#${i}`),
    sample: sample(o.sampled, now),
    now,
    cadence: DEFAULT_CADENCE,
    loopMs: 58 * S,
    concurrency: o.concurrency,
    apigMaxRps: o.apigMaxRps,
    apigLatencyMs: o.latencyMs ?? EXPECTED_APIG_LATENCY_MS,
  });
};

describe("the fan-out plan: workers only where they add throughput within the APIG budget", () => {
  it("starts no worker at the shipped rate cap, however large the due set: one invocation already reaches 200 queries/s", () => {
    // 100,000 old watches over 16 shards: 6,250 in the sampled shard.
    const p = plan({ ...SHIPPED, sampled: 6_250 });
    expect(p.demandPolls).toBe(100_000);
    expect(p.perInvocationRps).toBe(256);
    expect(p.workers).toEqual([]);
    expect(p.self).toHaveLength(16);
  });

  it("starts as many invocations as the cap can feed when the cap is raised (3,000/s at 256/s each: 12), no more", () => {
    // 320,000 polls a loop: more than even 3,000/s can make.
    const p = plan({ concurrency: 64, apigMaxRps: 3_000, sampled: 20_000 });
    expect(p.usefulInvocations).toBe(12);
    expect(p.workers).toHaveLength(11);
    // 16 shards over 12 invocations, none forgotten, none twice; the coordinator keeps S#0 (it has read it).
    const all = [p.self, ...p.workers].flat().sort();
    expect(all).toEqual(Array.from({ length: 16 }, (_, i) => `S#${i}`).sort());
    expect(p.self).toContain("S#0");
    for (const g of [p.self, ...p.workers]) expect(g.length).toBeGreaterThanOrEqual(1);
  });

  it("sizes by APIG latency: at 1 s an answer, 64 in flight make 64/s, so 200/s needs 4 invocations", () => {
    expect(plan({ ...SHIPPED, latencyMs: 1_000, sampled: 6_250 }).workers).toHaveLength(3);
  });

  it("starts only what the demand needs, even when more could be fed, sized so that no invocation has more shards than it can poll", () => {
    // 1,600 old watches: 1,600 polls a loop; one invocation at 256/s makes 14,848.
    expect(plan({ concurrency: 64, apigMaxRps: 3_000, sampled: 100 }).workers).toEqual([]);
    // 40,000 (2,500 a shard): 4 shards an invocation (10,000 polls) fit, 6 (15,000) do not: 4 invocations.
    expect(plan({ concurrency: 64, apigMaxRps: 3_000, sampled: 2_500 }).workers).toHaveLength(3);
    // 100,000 (6,250 a shard): 7 invocations would cover the total, but 3 shards (18,750) on one would not fit: 8.
    const p = plan({ concurrency: 64, apigMaxRps: 3_000, sampled: 6_250 });
    expect(p.workers).toHaveLength(7);
    for (const g of [p.self, ...p.workers]) expect(g).toHaveLength(2);
  });
});

describe("a coordinator invocation on virtual time", () => {
  const settings = (o: Partial<InvocationSettings> = {}): InvocationSettings => ({ ...SHIPPED, loopMs: 10 * S, reserveMs: 45 * S, ...o });

  it("at the shipped settings invokes nothing and polls every shard itself, though one loop cannot poll the due set", async () => {
    // 3,000 old watches want 3,000 polls in a 10 s loop; 200/s make 2,000.
    const sim = await oldWatches(3_000, { shards: 16 });
    const payloads: WorkerPayload[] = [];
    const summary = await sim.vt.drive(
      runPollerInvocation(sim.deps, createPollerState(), {
        event: {},
        remainingMs: 120 * S,
        settings: settings(),
        invoker: { invoke: async (p) => void payloads.push(p) },
      }),
    );
    expect(payloads).toEqual([]);
    expect(summary).toMatchObject({ role: "coordinator", workers: 0, workersFailed: 0 });
    expect(summary.shards).toHaveLength(16);
    expect(summary.polls).toBeGreaterThan(1_900);
  });

  it("starts workers once it has measured a slow APIG (1 s an answer: 64/s an invocation), each with its share of the rate", async () => {
    const sim = await oldWatches(3_000, { shards: 16, latencyMs: 1_000 });
    const memory = createCoordinatorMemory();
    const state = createPollerState();
    const payloads: WorkerPayload[][] = [[], []];
    for (const minute of [0, 1]) {
      const start = sim.vt.now;
      await sim.vt.drive(
        runPollerInvocation(sim.deps, state, {
          event: {},
          remainingMs: 120 * S,
          settings: settings(),
          memory,
          invoker: { invoke: async (p) => void payloads[minute]!.push(p) },
        }),
      );
      await sim.vt.drive(sim.vt.sleep(Math.max(0, start + 60 * S - sim.vt.now)));
    }
    // A fresh container assumes 250 ms: 256/s, above the cap, so no worker yet.
    expect(payloads[0]).toEqual([]);
    expect(memory.latency.estimateMs()).toBeCloseTo(1_000, -1);
    expect(payloads[1]).toHaveLength(3);
    for (const p of payloads[1]!) expect(p).toMatchObject({ kind: "poll-shards", maxRps: 50 });
  });
});

describe("starting workers: retried with backoff, counted when it fails, never in the way of the coordinator's own polling", () => {
  // 16 in flight at 250 ms: 64/s an invocation, so 200/s feeds 4 invocations over 8 shards.
  const settings: InvocationSettings = { concurrency: 16, apigMaxRps: 200, loopMs: 10 * S, reserveMs: 45 * S };

  /** A Lambda stand-in: per worker (by its first shard), the answers to its successive invokes; 202 once they run out. */
  function fakeLambda(script: Record<string, Array<number | "network">>) {
    const calls: Record<string, number> = {};
    const invoke = async (payload: unknown) => {
      const first = (payload as WorkerPayload).shards[0]!;
      const n = (calls[first] = (calls[first] ?? 0) + 1);
      const answer = script[first]?.[n - 1] ?? 202;
      if (answer === "network") throw new LambdaInvokeError("Lambda invoke failed: ECONNRESET", null);
      if (answer !== 202) throw new LambdaInvokeError(`Lambda invoke answered ${answer}`, answer);
    };
    return { invoke, calls };
  }

  async function coordinate(script: Record<string, Array<number | "network">>) {
    const sim = await oldWatches(3_000, { shards: 8 });
    const lambda = fakeLambda(script);
    const waits: number[] = [];
    const sleep = (ms: number) => (waits.push(ms), sim.vt.sleep(ms));
    const invoke = withInvokeRetry(lambda.invoke, { retries: 3, baseMs: 100, capMs: 1_000, sleep, random: seeded(7) });
    const started = sim.vt.now;
    const summary = await sim.vt.drive(
      runPollerInvocation(sim.deps, createPollerState(), { event: {}, remainingMs: 120 * S, settings, invoker: { invoke } }),
    );
    const polledIn = (shard: string) =>
      [...Array(3_000).keys()]
        .map((i) => `w-${i}`)
        .filter((id) => shardOf({ tenant: "acme", task_id: id }, 8) === shard)
        .filter((id) => (sim.apig.asked.get(id) ?? []).some((t) => t >= started));
    const readInFull = new Set(sim.store.reads.filter((r) => r.kind === "full").map((r) => r.shard));
    return { sim, summary, calls: lambda.calls, waits, polledIn, readInFull };
  }

  it("retries 429 and 5xx, waiting a random time under a doubling ceiling, and the worker starts", async () => {
    const { summary, calls, waits } = await coordinate({ "S#1": [429, 503] });
    expect(summary).toMatchObject({ workers: 3, workersFailed: 0, shards: ["S#0", "S#4"] });
    expect(calls).toEqual({ "S#1": 3, "S#2": 1, "S#3": 1 });
    // Full jitter: the first wait in [0, 100), the second in [0, 200).
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeLessThan(100);
    expect(waits[1]).toBeLessThan(200);
  });

  it("after 4 failures counts the worker as not started, and the coordinator polls its own shards and the failed worker's", async () => {
    const { sim, summary, calls, polledIn, readInFull } = await coordinate({ "S#1": [429, 500, 502, "network", 202] });
    // 1 try + 3 retries, never a fifth.
    expect(calls["S#1"]).toBe(4);
    expect(summary).toMatchObject({ workers: 2, workersFailed: 1 });
    expect([...summary.shards].sort()).toEqual(["S#0", "S#1", "S#4", "S#5"]);
    expect(readInFull).toEqual(new Set(["S#0", "S#4", "S#1", "S#5"]));
    // Its whole capacity (16 in flight at 250 ms for 10 s: 640), its own shards and the failed worker's among them.
    expect(summary.polls).toBeGreaterThan(600);
    for (const shard of ["S#0", "S#4", "S#1"]) expect(polledIn(shard).length, shard).toBeGreaterThan(0);
    // The shards of the workers that did start are theirs alone.
    expect(polledIn("S#2")).toEqual([]);
    expect(sim.logs.filter((l) => l.event === "worker_start_failed")).toMatchObject([{ level: "error", shards: "S#1,S#5" }]);
    // ... and it shows as a metric, which WorkersFailedToStartAlarm watches.
    const lines: Array<Record<string, unknown>> = [];
    const metrics = createMetrics({ serviceName: "svc", sink: (l) => lines.push(JSON.parse(l)) });
    recordTick(metrics, summary);
    metrics.flush();
    expect(lines.find((l) => "WorkersFailedToStart" in l)).toMatchObject({ WorkersFailedToStart: 1 });
  });

  it("does not retry what cannot pass (403: not allowed to invoke)", async () => {
    const { summary, calls } = await coordinate({ "S#2": [403] });
    expect(calls["S#2"]).toBe(1);
    expect(summary).toMatchObject({ workers: 2, workersFailed: 1 });
  });

  it("polls every shard itself when every invoke fails", async () => {
    const { summary, readInFull } = await coordinate({ "S#1": [500, 500, 500, 500], "S#2": [429, 429, 429, 429], "S#3": ["network", "network", "network", "network"] });
    expect(summary).toMatchObject({ workers: 0, workersFailed: 3 });
    expect(summary.shards).toHaveLength(8);
    expect(readInFull.size).toBe(8);
    expect(summary.polls).toBeGreaterThan(600);
  });
});
