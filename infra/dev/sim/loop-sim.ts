/**
 * The poll loop wired to in-memory ports on virtual time: for unit tests of
 * the cadence, starvation, reads and fan-out, and for the benchmark's
 * large simulations. No I/O, deterministic.
 */
import { emptyLoopSummary, type LoopDeps, type LoopOptions, type LoopSummary } from "../../../lib/app/poll-loop";
import type { Sender } from "../../../lib/app/ports";
import { newWatch } from "../../../lib/app/register";
import { DEFAULT_CADENCE } from "../../../lib/domain/cadence";
import { nullMetrics } from "../../../lib/aws/metrics";
import { FakeApig } from "./fake-apig";
import { MemoryRepository } from "./memory-repository";
import { VirtualTime } from "./virtual-time";
import type { LogFields } from "../../../lib/app/ports";

export interface Sim {
  vt: VirtualTime;
  store: MemoryRepository;
  apig: FakeApig;
  deps: LoopDeps;
  /** Deliveries sent: task id and virtual time. */
  sent: Array<{ taskId: string; at: number }>;
  logs: Array<{ level: string; event: string } & LogFields>;
  /** A watch registered now (its first APIG answer not yet in), ending `endsInMs` from now. */
  watch(taskId: string, endsInMs: number, opts?: { tenant?: string; webhook?: boolean }): void;
}

/** A deterministic random source (LCG), so jitter is the same on every run. */
export function seeded(seed = 42): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/**
 * The loop's deps with in-memory ports: the given parts, and for the rest a
 * seeded random source, a silent log, no metrics, and the shipped cadence,
 * retry schedule and lease (for simulations, tests and benchmarks alike).
 */
export function simLoopDeps(parts: Pick<LoopDeps, "store" | "apig" | "sender" | "clock" | "sleep"> & Partial<LoopDeps>): LoopDeps {
  const silent = () => {};
  return {
    random: seeded(42),
    log: { info: silent, warn: silent, error: silent },
    metrics: nullMetrics,
    health: { flush: async () => {} },
    rules: { notFoundGraceMs: 600_000 },
    retryScheduleS: [5, 300],
    leaseMs: 40_000,
    cadence: DEFAULT_CADENCE,
    ...parts,
  };
}

export function startSim(opts: { shards?: number; latencyMs?: number; backoffCapMs?: number; sendMs?: number } = {}): Sim {
  const vt = new VirtualTime();
  const store = new MemoryRepository(opts.shards ?? 1);
  const apig = new FakeApig(vt, opts.latencyMs ?? 200);
  const sent: Sim["sent"] = [];
  const logs: Sim["logs"] = [];
  const sender: Sender = {
    async send(_target, view) {
      await vt.sleep(opts.sendMs ?? 50);
      sent.push({ taskId: view.task_id, at: vt.now });
      return { ok: true, status: 200 };
    },
  };
  const log = (level: string) => (event: string, fields?: LogFields) => logs.push({ level, event, ...fields });
  const deps = simLoopDeps({
    store,
    apig,
    sender,
    clock: vt.clock,
    sleep: vt.sleep,
    log: { info: log("info"), warn: log("warn"), error: log("error") },
    cadence: { ...DEFAULT_CADENCE, backoffCapMs: opts.backoffCapMs ?? DEFAULT_CADENCE.backoffCapMs },
  });
  return {
    vt,
    store,
    apig,
    deps,
    sent,
    logs,
    watch(taskId, endsInMs, o = {}) {
      apig.tasks.set(taskId, { endsAt: vt.now + endsInMs });
      const w = newWatch(
        o.tenant ?? "acme",
        {
          project_id: "p",
          instance_id: "i",
          task_id: taskId,
          region: "eu-de",
          targets: o.webhook === false ? [] : [{ type: "webhook", url: "https://ci.example.com/h", secret: "whsec_x" }],
          labels: {},
          timeout_s: 86_400,
        },
        vt.clock(),
      );
      // As registration leaves it once APIG has answered `processing`.
      store.seed({ ...w, status: "processing", task_type: "import_api", history: [...w.history, { status: "processing", at: w.created_at }] });
    },
  };
}

/** A poller invocation's summary with everything at zero but `patch`. */
/** A scheduled invocation's options at the sim's current time, as the deployed poller runs it (58 s loop, 120 s Lambda, 45 s reserve). */
export function invocationOptions(sim: Sim, o: Partial<LoopOptions> = {}): LoopOptions {
  const now = sim.vt.now;
  return {
    shards: sim.deps.store.dueShards(),
    endAt: now + 58_000,
    hardStopAt: now + 120_000 - 45_000,
    concurrency: 16,
    maxRps: 200,
    fullReadEveryMs: 60_000,
    pickupEveryMs: 5_000,
    pickupOverlapMs: 5_000,
    ...o,
  };
}

export function loopSummary(patch: Partial<LoopSummary> = {}): LoopSummary {
  return { ...emptyLoopSummary(), ...patch };
}
