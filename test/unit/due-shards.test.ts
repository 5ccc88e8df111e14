/**
 * `DUE_SHARDS` changed between two deploys, on virtual time with the
 * in-memory repository: no watch is stranded in a shard no longer read,
 * whether the count goes down or up.
 */
import { describe, expect, it } from "vitest";
import { createPollerState } from "../../lib/app/poll-loop";
import { createCoordinatorMemory, type InvocationSettings, runPollerInvocation, STRAY_SWEEP_EVERY_MS } from "../../lib/app/poller-invocation";
import { shardOf } from "../../lib/store/item-codec";
import { type Sim, startSim } from "../../infra/dev/sim/loop-sim";

const S = 1000;
const settings: InvocationSettings = { concurrency: 64, apigMaxRps: 200, loopMs: 58 * S, reserveMs: 45 * S };
const N = 400;
const ids = [...Array(N).keys()].map((i) => `w-${i}`);

/** One scheduled invocation on a fresh container, as after a deploy. */
async function scheduled(sim: Sim, memory = createCoordinatorMemory()) {
  const start = sim.vt.now;
  // With an invoker, as deployed: the coordinator reads shard 0 for its plan (after the sweep).
  const invoker = { invoke: async () => expect.unreachable("no worker at the shipped settings") };
  const summary = await sim.vt.drive(runPollerInvocation(sim.deps, createPollerState(), { event: {}, remainingMs: 120 * S, settings, memory, invoker }));
  const polled = ids.filter((id) => (sim.apig.asked.get(id) ?? []).some((t) => t >= start));
  await sim.vt.drive(sim.vt.sleep(Math.max(0, start + 60 * S - sim.vt.now)));
  return { summary, polled };
}

/** The watches, registered 20 minutes ago (polled once a minute). */
async function registered(shards: number): Promise<Sim> {
  const sim = startSim({ shards });
  for (const id of ids) sim.watch(id, 24 * 60 * 60 * S);
  await sim.vt.drive(sim.vt.sleep(20 * 60 * S));
  return sim;
}

describe("DUE_SHARDS changed", () => {
  it("lowered (32 -> 8): entries in shards 8..31 are moved to the shard they hash to now and polled in the first invocation", async () => {
    const sim = await registered(32);
    const stranded = ids.filter((id) => Number(shardOf({ tenant: "acme", task_id: id }, 32).slice(2)) >= 8);
    expect(stranded.length).toBeGreaterThan(N / 2);
    sim.store.setShardCount(8);
    const { summary, polled } = await scheduled(sim);
    expect(summary.shards).toHaveLength(8);
    expect(summary.resharded).toBe(stranded.length);
    expect(polled).toHaveLength(N);
    // Nothing left behind, and each entry where a reader of 8 shards looks.
    expect(await sim.store.strayDueKeys()).toEqual([]);
    for (const id of stranded) {
      const shard = shardOf({ tenant: "acme", task_id: id }, 8);
      expect((await sim.store.dueKeys(shard, { upTo: sim.vt.now })).some((k) => k.taskId === id), id).toBe(true);
    }
  });

  it("raised (4 -> 16): every old shard id is still read, nothing needs moving, every watch is polled", async () => {
    const sim = await registered(4);
    sim.store.setShardCount(16);
    const { summary, polled } = await scheduled(sim);
    expect(summary.shards).toHaveLength(16);
    expect(summary.resharded).toBe(0);
    expect(polled).toHaveLength(N);
  });

  it("lowered then raised again (16 -> 2 -> 16): still every watch polled each time", async () => {
    const sim = await registered(16);
    for (const n of [2, 16]) {
      sim.store.setShardCount(n);
      const { polled } = await scheduled(sim);
      expect(polled, `after DUE_SHARDS=${n}`).toHaveLength(N);
    }
  });

  it("a warm container sweeps at most every 10 minutes; a fresh one at once", async () => {
    const sim = await registered(4);
    const memory = createCoordinatorMemory();
    for (let i = 0; i < 12; i++) await scheduled(sim, memory);
    // Minutes 0 and 10 of the 12.
    expect(sim.store.counts.straySweeps).toBe(Math.ceil((12 * 60 * S) / STRAY_SWEEP_EVERY_MS));
    await scheduled(sim);
    expect(sim.store.counts.straySweeps).toBe(3);
  });
});
