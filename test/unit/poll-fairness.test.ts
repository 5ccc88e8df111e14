/**
 * The poll loop as Lambda runs it (virtual time, in-memory ports): fresh
 * containers that remember nothing, more watches than an invocation can
 * poll, APIG throttling, idle minutes. Each test fails when the old
 * behaviour comes back: fresh containers all starting at the same end of a
 * shard, a backlog counted from the invocation's own read, 429s ignored,
 * rate waits past the hard stop, a 58 s loop with nothing to do, an item
 * read before every poll, a fresh first round that ignores a watch's age.
 */
import { describe, expect, it } from "vitest";
import { createPollerState, type LoopOptions, type PollerState, runPollLoop } from "../../lib/app/poll-loop";
import { runPollerInvocation } from "../../lib/app/poller-invocation";
import { bucketOf } from "../../lib/app/sweep";
import { newWatch } from "../../lib/app/register";
import { invocationOptions, type Sim, startSim } from "../../infra/dev/sim/loop-sim";

const S = 1000;
const MIN = 60 * S;

const invocation = invocationOptions;

/** One scheduled invocation a minute; `state(i)` is the container it lands on (a fresh one by default). */
async function scheduled(sim: Sim, n: number, o: Partial<LoopOptions> = {}, state: (i: number) => PollerState = () => createPollerState()) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const start = sim.vt.now;
    out.push(await sim.vt.drive(runPollLoop(sim.deps, state(i), invocation(sim, o))));
    await sim.vt.drive(sim.vt.sleep(Math.max(0, start + MIN - sim.vt.now)));
  }
  return out;
}

/** `n` never-ending watches registered now, then left alone until they are old. */
async function oldWatches(sim: Sim, n: number, prefix = "w") {
  for (let i = 0; i < n; i++) sim.watch(`${prefix}-${i}`, 24 * 60 * MIN, { webhook: false });
  await sim.vt.drive(sim.vt.sleep(20 * MIN));
}

const polledSince = (sim: Sim, ids: string[], t: number) => ids.filter((id) => (sim.apig.asked.get(id) ?? []).some((x) => x >= t)).length;

describe("fairness across invocations: the most overdue first, judged from what is stored", () => {
  it("2,000 never-ending watches, ~580 polls an invocation, each on a fresh container: every watch polled within ceil(open / capacity) + 1 invocations", async () => {
    const sim = startSim({ latencyMs: 200 });
    await oldWatches(sim, 2_000);
    const ids = [...Array(2_000).keys()].map((i) => `w-${i}`);
    const t0 = sim.vt.now;
    // 10 queries a second for 58 s: about 580 polls an invocation (the 540).
    const runs = await scheduled(sim, 6, { maxRps: 10 });
    const capacity = Math.min(...runs.map((r) => r.polls));
    expect(capacity).toBeGreaterThan(500);
    const bound = Math.ceil(2_000 / capacity) + 1;
    expect(bound).toBeLessThanOrEqual(5);
    // Every watch polled in the first `bound` invocations (the old code: 565 of 2,000 in six).
    const polled = ids.filter((id) => (sim.apig.asked.get(id) ?? []).some((x) => x >= t0 && x < t0 + bound * MIN));
    expect(polled).toHaveLength(2_000);
    // Few polls spent twice before every watch had its turn once: the part-served buckets (1/64 of the shard each) at each invocation's end
    const lap = Math.max(...ids.map((id) => sim.apig.asked.get(id)!.find((x) => x >= t0)!));
    const spent = [...sim.apig.asked.values()].flat().filter((x) => x >= t0 && x <= lap).length;
    const perBucket = new Map<number, number>();
    for (const id of ids) perBucket.set(bucketOf(`acme/${id}`), (perBucket.get(bucketOf(`acme/${id}`)) ?? 0) + 1);
    // (slots go out in the order they were asked for, so those left waiting at the end are the least overdue)
    expect(spent - 2_000).toBeLessThanOrEqual(bound * Math.max(...perBucket.values()));
  });

  it("the same on containers that are fresh or warm in turn: the warm one follows what the fresh ones stored", async () => {
    const sim = startSim({ latencyMs: 200 });
    await oldWatches(sim, 2_000);
    const ids = [...Array(2_000).keys()].map((i) => `w-${i}`);
    const warm = createPollerState();
    const t0 = sim.vt.now;
    // Invocations 0, 2, 4 land on one warm container; 1, 3, 5 on fresh ones.
    const runs = await scheduled(sim, 6, { maxRps: 10 }, (i) => (i % 2 === 0 ? warm : createPollerState()));
    const capacity = Math.min(...runs.map((r) => r.polls));
    const bound = Math.ceil(2_000 / capacity) + 1;
    expect(polledSince(sim, ids, t0)).toBe(2_000);
    const polled = ids.filter((id) => (sim.apig.asked.get(id) ?? []).some((x) => x >= t0 && x < t0 + bound * MIN));
    expect(polled).toHaveLength(2_000);
  });
});

describe("a truthful backlog: the most overdue open watch's age, from when it became due", () => {
  it("grows past a minute when fresh containers cannot keep up, instead of reading one loop's length", async () => {
    const sim = startSim({ latencyMs: 200 });
    await oldWatches(sim, 2_000);
    const runs = await scheduled(sim, 3, { maxRps: 10 });
    // Each unpolled watch was due a minute after its last poll the table knows of (here: its registration, 20+ minutes ago).
    for (const r of runs) expect(r.oldestDueAgeS).toBeGreaterThan(20 * 60 - 60);
    expect(runs[0]!.backlogByShard["S#0"]).toBe(runs[0]!.oldestDueAgeS);
    // Once every watch has had its turn, it comes down to the real lateness (under one cadence minute).
    const later = await scheduled(sim, 3, { maxRps: 10 });
    expect(later.at(-1)!.oldestDueAgeS).toBeLessThan(3 * 60);
  });

  it("includes a shard no invocation read (a dropped worker), from its stored record", async () => {
    const sim = startSim({ shards: 2, latencyMs: 50 });
    await oldWatches(sim, 40);
    // One invocation reads both shards and stores what it served.
    await scheduled(sim, 1);
    // Then S#1's worker is dropped: five minutes of invocations reading S#0 only, reporting both.
    const runs = await scheduled(sim, 5, { shards: ["S#0"], reportShards: ["S#0", "S#1"] });
    const last = runs.at(-1)!;
    expect(last.backlogByShard["S#0"]).toBeLessThan(5);
    // S#1's watches were due a minute after their last poll, about 5 minutes ago.
    expect(last.backlogByShard["S#1"]).toBeGreaterThanOrEqual(4 * 60 - 5);
    expect(last.oldestDueAgeS).toBe(last.backlogByShard["S#1"]);
  });
});

describe("throttling obeyed: 429 and 500 APIG.9008 slow the region, and no wait passes the hard stop", () => {
  for (const fault of [
    { code: "APIG.0308", http_status: 429 },
    { code: "APIG.9008", http_status: 500 },
  ]) {
    it(`${fault.http_status} ${fault.code} halves the rate down to a trickle`, async () => {
      const sim = startSim({ latencyMs: 50 });
      await oldWatches(sim, 400);
      const state = createPollerState();
      const [good] = await scheduled(sim, 1, { maxRps: 20, concurrency: 64 }, () => state);
      expect(good!.pollsPerS).toBeGreaterThan(20 * 0.9);
      for (const t of sim.apig.tasks.values()) t.fault = fault;
      const [throttled] = await scheduled(sim, 1, { maxRps: 20, concurrency: 64 }, () => state);
      expect(throttled!.pollsPerS).toBeLessThan(5);
      expect(state.throttles.get("eu-de|20")!.rps).toBeLessThan(5);
    });

    it(`under ${fault.code} throttling every invocation ends by its hard stop: no poll starts after it, no rate wait outlasts it`, async () => {
      const sim = startSim({ latencyMs: 200 });
      await oldWatches(sim, 300);
      for (const t of sim.apig.tasks.values()) t.fault = fault;
      const state = createPollerState();
      // A warm container whose region is already throttled to a trickle.
      await scheduled(sim, 1, { maxRps: 20, concurrency: 64 }, () => state);
      const settings = { concurrency: 64, apigMaxRps: 20, loopMs: 58 * S, reserveMs: 45 * S };
      const start = sim.vt.now;
      const before = sim.apig.total;
      // Lambda gives it 60.5 s: the hard stop is 15.5 s in, long before the loop's 58 s, and between two rate slots.
      const summary = await sim.vt.drive(runPollerInvocation(sim.deps, state, { event: {}, remainingMs: 60.5 * S, settings }));
      const hardStop = start + 60.5 * S - 45 * S;
      // Ended by the hard stop plus one answer's latency (a query sent just before it).
      expect(sim.vt.now).toBeLessThanOrEqual(hardStop + 200);
      const sent = [...sim.apig.asked.values()].flat().filter((x) => x > start).map((x) => x - 200);
      expect(Math.max(...sent)).toBeLessThanOrEqual(hardStop);
      expect(sim.apig.total - before).toBe(summary.polls);
      expect(summary.slotMisses).toBeGreaterThan(0);
    });
  }
});

describe("idle costs nothing", () => {
  it("an invocation with no open watch ends at once, and one whose watches are all polled ends when nothing is due before the next", async () => {
    const sim = startSim();
    const start = sim.vt.now;
    const [idle] = await sim.vt.drive(Promise.all([runPollLoop(sim.deps, createPollerState(), invocation(sim))]));
    expect(idle).toMatchObject({ idleExit: true, polls: 0 });
    expect(sim.vt.now - start).toBeLessThan(1 * S);

    await oldWatches(sim, 20);
    const t = sim.vt.now;
    const busy = await sim.vt.drive(runPollLoop(sim.deps, createPollerState(), invocation(sim)));
    // Twenty old watches: one poll each, then nothing due for a minute: it ends in seconds, not at 58 s.
    expect(busy).toMatchObject({ idleExit: true, polls: 20 });
    expect(sim.vt.now - t).toBeLessThan(5 * S);
  });

  it("a watch registered while no invocation runs is polled by the next one, and keeps it in its loop while young", async () => {
    const sim = startSim();
    await scheduled(sim, 1);
    sim.watch("new", 30 * S);
    const start = sim.vt.now;
    await scheduled(sim, 1);
    // Polled every 2 s while young, until it ended 30 s in and was delivered.
    expect(sim.apig.asked.get("new")!.filter((x) => x >= start).length).toBeGreaterThanOrEqual(10);
    expect(sim.sent.map((s) => s.taskId)).toEqual(["new"]);
    expect(sim.sent[0]!.at - (start + 30 * S)).toBeLessThanOrEqual(3 * S);
  });
});

describe("poll first, read later", () => {
  it("a fresh container polls 500 watches with no item read, and reads (batched) only the ones whose answer changed", async () => {
    const sim = startSim({ latencyMs: 200 });
    await oldWatches(sim, 500);
    // Ten of them end during the next invocation.
    for (let i = 0; i < 10; i++) sim.apig.tasks.get(`w-${i}`)!.endsAt = sim.vt.now;
    const [r] = await scheduled(sim, 1);
    expect(r!.polls).toBe(500);
    expect(r!.transitions).toBe(10);
    // The old code read every item before its poll: 500 reads.
    expect(sim.store.counts.gets).toBe(0);
    expect(sim.store.counts.batchItems).toBe(10);
    expect(r!.itemReads).toBe(10);
  });

  it("a fresh container's round is bound by the APIG rate, not by reads: 10,000 watches at 200 rps in about 50 s", async () => {
    const sim = startSim({ latencyMs: 200 });
    await oldWatches(sim, 10_000);
    const start = sim.vt.now;
    const [r] = await scheduled(sim, 1, { concurrency: 64 });
    expect(r!.polls).toBe(10_000);
    expect(sim.store.itemReads).toBe(0);
    const last = Math.max(...[...sim.apig.asked.values()].map((xs) => xs.at(-1)!));
    // 10,000 / 200 rps = 50 s (+ the answer's latency).
    expect(last - start).toBeLessThanOrEqual(51 * S);
  });

  it("index entries from before the projection still work: their items are read in batches, then polled", async () => {
    const sim = startSim({ latencyMs: 200 });
    for (let i = 0; i < 300; i++) {
      sim.apig.tasks.set(`legacy-${i}`, { endsAt: sim.vt.now + (i < 3 ? 90 * S : 24 * 60 * MIN) });
      const w = newWatch(
        "acme",
        { project_id: "p", instance_id: "i", task_id: `legacy-${i}`, region: "eu-de", targets: [], labels: {}, timeout_s: 86_400 },
        sim.vt.clock(),
      );
      sim.store.seedLegacy({ ...w, status: "processing", task_type: "import_api", history: [...w.history, { status: "processing", at: w.created_at }] });
    }
    const [a, b] = await scheduled(sim, 2, { concurrency: 64 });
    expect(a!.polls).toBeGreaterThanOrEqual(300);
    // Each item read once per fresh container (a poll that changes nothing does not write the projection in),
    // in batches of 100 before the round, not one GetItem before each poll.
    expect(sim.store.counts.gets).toBe(0);
    expect(sim.store.counts.batchItems).toBe(2 * 300);
    expect(sim.store.counts.batchGets).toBeLessThanOrEqual(2 * (300 / 100) + 3);
    expect(a!.transitions + b!.transitions).toBe(3);
  });
});

describe("an age-aware first round", () => {
  it("after a fresh start, a watch registered 30 s earlier is polled within 5 s, not after 10,000 old ones", async () => {
    const sim = startSim({ latencyMs: 200 });
    await oldWatches(sim, 10_000);
    // Polled as usual for two minutes, then a registration, then the next invocation lands on a fresh container.
    await scheduled(sim, 2, { concurrency: 64 });
    await sim.vt.drive(sim.vt.sleep(30 * S));
    sim.watch("young", 24 * 60 * MIN);
    const registeredAt = sim.vt.now;
    await sim.vt.drive(sim.vt.sleep(30 * S));
    const start = sim.vt.now;
    await scheduled(sim, 1, { concurrency: 64 });
    const first = sim.apig.asked.get("young")!.find((x) => x > registeredAt)!;
    expect(first - start).toBeLessThanOrEqual(5 * S);
  });
});
