/**
 * The poll loop on virtual time with in-memory ports: cadence, starvation,
 * reads of the due index, overlap and throttling, exactly and fast (fan-out:
 * `fan-out.test.ts`).
 */
import { describe, expect, it } from "vitest";
import { createPollerState, type LoopOptions, runPollLoop } from "../../lib/app/poll-loop";
import { invocationOptions, type Sim, startSim } from "../../infra/dev/sim/loop-sim";

const S = 1000;

const invocation = invocationOptions;

/** Run `n` consecutive scheduled invocations, one a minute, sharing one warm container's state. */
async function minutes(sim: Sim, n: number, o: Partial<LoopOptions> = {}, state = createPollerState()) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const start = sim.vt.now;
    out.push(await sim.vt.drive(runPollLoop(sim.deps, state, invocation(sim, o))));
    await sim.vt.drive(sim.vt.sleep(Math.max(0, start + 60 * S - sim.vt.now)));
  }
  return out;
}

const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]!);

describe("poll loop: a task's end is noticed in seconds", () => {
  it("polls a young watch every few seconds and delivers as soon as it ends", async () => {
    const sim = startSim();
    sim.watch("t1", 95 * S);
    const ended = sim.vt.now + 95 * S;
    await minutes(sim, 2);
    const asked = sim.apig.asked.get("t1")!;
    // Every 2 s in the first minute, then age / 30: never more than 4 s apart before the end.
    expect(Math.max(...gaps(asked.filter((t) => t <= ended)))).toBeLessThanOrEqual(4 * S);
    expect(sim.sent).toHaveLength(1);
    // Noticed and delivered within the cadence's delay (+ latency and the send).
    expect(sim.sent[0]!.at - ended).toBeLessThanOrEqual(4 * S);
    // Polled no more once it ended.
    expect(asked.filter((t) => t > sim.sent[0]!.at)).toEqual([]);
  });

  it("writes only on transitions and reads no item: minutes of polling a running task cost neither a read nor a write", async () => {
    const sim = startSim();
    sim.watch("t1", 60 * 60 * S);
    await minutes(sim, 3);
    // About 30 polls in the first minute, 20 in the second, 12 in the third.
    expect(sim.apig.asked.get("t1")!.length).toBeGreaterThan(50);
    // The due index carries what a poll needs: no item read at all.
    expect(sim.store.counts).toMatchObject({ saves: 0, gets: 0, batchGets: 0 });
  });
});

describe("poll loop: reads of the due index", () => {
  it("reads each shard in full once a minute, and picks up a registration within 10 s without another full read", async () => {
    const sim = startSim({ shards: 4 });
    for (let i = 0; i < 20; i++) sim.watch(`old-${i}`, 60 * 60 * S);
    const state = createPollerState();
    const run = runPollLoop(sim.deps, state, invocation(sim));
    // A registration 20 s into the invocation.
    let registeredAt = 0;
    void sim.vt.sleep(20 * S).then(() => {
      registeredAt = sim.vt.now;
      sim.watch("late", 0);
    });
    await sim.vt.drive(run);
    const firstAsked = sim.apig.asked.get("late")![0]!;
    expect(firstAsked - registeredAt).toBeLessThanOrEqual(10 * S);
    expect(sim.sent.find((s) => s.taskId === "late")!.at - registeredAt).toBeLessThanOrEqual(10 * S);
    // One full read per shard; the rest were pickups of what is new.
    expect(sim.store.reads.filter((r) => r.kind === "full")).toHaveLength(4);
    expect(sim.store.counts.pickups).toBeGreaterThanOrEqual(4 * 10);
    // Three more minutes on the warm state: at most one full read per shard per minute.
    await minutes(sim, 3, {}, state);
    const full = sim.store.reads.filter((r) => r.kind === "full");
    expect(full).toHaveLength(4 * 4);
    for (const shard of sim.deps.store.dueShards()) {
      const times = full.filter((r) => r.shard === shard).map((r) => r.upTo);
      expect(Math.min(...gaps(times))).toBeGreaterThanOrEqual(60 * S);
    }
  });

  it("consecutive invocations on a warm container continue the schedule instead of polling everything again", async () => {
    const sim = startSim();
    for (let i = 0; i < 30; i++) sim.watch(`w-${i}`, 60 * 60 * S);
    await sim.vt.drive(sim.vt.sleep(30 * 60 * S)); // old watches: polled once a minute
    await minutes(sim, 3);
    for (let i = 0; i < 30; i++) {
      const asked = sim.apig.asked.get(`w-${i}`)!;
      // Once a minute, not twice at each invocation boundary.
      expect(asked.length).toBeLessThanOrEqual(4);
      expect(Math.min(...gaps(asked))).toBeGreaterThanOrEqual(55 * S);
    }
  });
});

describe("poll loop: another writer's changes", () => {
  it("after losing a conflict it reads the watch again and applies the answer to the fresh copy, instead of retrying a stale one", async () => {
    const sim = startSim();
    sim.watch("stale", 30 * S);
    // A fault first, so the loop holds the item it wrote (the copy that goes stale).
    sim.apig.tasks.get("stale")!.fault = { code: "APIG.3500", http_status: 500 };
    void sim.vt.sleep(3 * S).then(() => delete sim.apig.tasks.get("stale")!.fault);
    const state = createPollerState();
    const run = runPollLoop(sim.deps, state, invocation(sim));
    // Meanwhile another writer (a registration's labels, a redelivery...) bumps the version.
    void sim.vt.sleep(10 * S).then(() => {
      const w = sim.store.peek("acme", "stale")!;
      sim.store.seed({ ...w, version: w.version + 1, labels: { touched: "yes" } });
    });
    await sim.vt.drive(run);
    const w = sim.store.peek("acme", "stale")!;
    // The end was recorded on top of the other writer's change, and notified once.
    expect(w).toMatchObject({ status: "succeed", labels: { touched: "yes" } });
    expect(sim.store.counts.conflicts).toBe(1);
    expect(sim.sent.map((x) => x.taskId)).toEqual(["stale"]);
  });


  it("a delivery another writer rescheduled (a redelivery) is sent within seconds, not at the old retry time", async () => {
    const sim = startSim();
    // The first try fails and the next one is an hour away; later tries succeed.
    sim.deps.retryScheduleS = [3600];
    let tries = 0;
    sim.deps.sender = {
      async send(_t, view) {
        await sim.vt.sleep(50);
        sim.sent.push({ taskId: view.task_id, at: sim.vt.now });
        return ++tries === 1 ? { ok: false, final: false, error: "HTTP 500" } : { ok: true, status: 200 };
      },
    };
    sim.watch("again", 5 * S);
    // Something else still running keeps the invocation in its loop (with nothing due it would end at once).
    sim.watch("busy", 60 * 60 * S);
    const state = createPollerState();
    const run = runPollLoop(sim.deps, state, invocation(sim));
    let redeliveredAt = 0;
    void sim.vt.sleep(20 * S).then(() => {
      // Another writer (the API's redelivery) puts the target back to pending, due now.
      redeliveredAt = sim.vt.now;
      const w = sim.store.peek("acme", "again")!;
      expect(w.targets[0]).toMatchObject({ state: "pending", attempts: 1 });
      sim.store.seed({
        ...w,
        version: w.version + 1,
        targets: w.targets.map((t) => ({ ...t, state: "pending", attempts: 0, next_attempt_at: sim.vt.now })),
      });
    });
    await sim.vt.drive(run);
    expect(sim.sent.filter((x) => x.taskId === "again")).toHaveLength(2);
    expect(sim.sent[1]!.at - redeliveredAt).toBeLessThanOrEqual(10 * S);
  });
});

describe("poll loop: backoff cannot starve", () => {
  it("after a transient fault the next poll comes within BACKOFF_CAP_S, even with slow answers holding the slots, across invocations", async () => {
    const cap = 20 * S;
    // 9 s answers and 4 slots: the loop is busy most of the time, as a slow tick was.
    const sim = startSim({ latencyMs: 9 * S, backoffCapMs: cap });
    for (let i = 0; i < 20; i++) sim.watch(`busy-${i}`, 24 * 60 * 60 * S);
    sim.watch("flaky", 24 * 60 * 60 * S);
    await sim.vt.drive(sim.vt.sleep(20 * 60 * S)); // all old: once a minute each
    sim.apig.tasks.get("flaky")!.fault = { code: "APIG.9008", http_status: 500 };
    await minutes(sim, 5, { concurrency: 4 });
    const asked = sim.apig.asked.get("flaky")!;
    expect(asked.length).toBeGreaterThanOrEqual(5 * 60 / 29);
    // Query to query: the cap, plus at most one slow answer's time waiting for a slot
    // (it is first in line for the next one, earliest deadline first).
    expect(Math.max(...gaps(asked))).toBeLessThanOrEqual(cap + 9 * S);
    // The busy watches kept their once-a-minute too.
    for (let i = 0; i < 20; i++) expect(Math.max(...gaps(sim.apig.asked.get(`busy-${i}`)!))).toBeLessThanOrEqual(60 * S + 9 * S);
    // And the fault was written when it began and then at most every 30 s (last_error.at moves), not once per poll.
    expect(sim.store.counts.saves).toBeLessThanOrEqual(1 + (5 * 60) / 30);
    expect(sim.store.counts.saves).toBeLessThan(asked.length);
    expect(sim.store.peek("acme", "flaky")!.last_error).toMatchObject({ code: "APIG.9008" });
  });

  it("under overload every watch still gets its turn (earliest deadline first)", async () => {
    const sim = startSim({ latencyMs: 1 * S });
    for (let i = 0; i < 200; i++) sim.watch(`o-${i}`, 60 * 60 * S);
    // 2 slots of 1 s answers: 116 polls a minute for 200 watches that want 30 each.
    await minutes(sim, 2, { concurrency: 2 });
    const counts = [...Array(200).keys()].map((i) => sim.apig.asked.get(`o-${i}`)?.length ?? 0);
    // 232 polls shared out: everyone once, nobody more than a few times while others waited.
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...counts)).toBeLessThanOrEqual(3);
  });
});

describe("poll loop: overlapping invocations", () => {
  it("two invocations at once record one transition and send one notification", async () => {
    const sim = startSim();
    sim.watch("race", 30 * S);
    const a = runPollLoop(sim.deps, createPollerState(), invocation(sim));
    const b = runPollLoop(sim.deps, createPollerState(), invocation(sim));
    const [ra, rb] = await sim.vt.drive(Promise.all([a, b]));
    expect(ra.transitions + rb.transitions).toBe(1);
    expect(sim.sent.filter((s) => s.taskId === "race")).toHaveLength(1);
    expect(sim.store.peek("acme", "race")!.history.filter((h) => h.status === "succeed")).toHaveLength(1);
  });
});

describe("poll loop: APIG_MAX_RPS and APIG.9008", () => {
  it("never exceeds the rate, and slows down by itself while APIG throttles", async () => {
    const sim = startSim({ latencyMs: 50 });
    for (let i = 0; i < 400; i++) sim.watch(`r-${i}`, 60 * 60 * S);
    const state = createPollerState();
    const [first] = await minutes(sim, 1, { maxRps: 20, concurrency: 64 }, state);
    expect(first!.pollsPerS).toBeLessThanOrEqual(20 * 1.05);
    expect(first!.pollsPerS).toBeGreaterThan(20 * 0.9);
    // Every task throttles for a minute: the rate halves down to a trickle.
    for (const t of sim.apig.tasks.values()) t.fault = { code: "APIG.9008", http_status: 500 };
    const [throttled] = await minutes(sim, 1, { maxRps: 20, concurrency: 64 }, state);
    expect(throttled!.pollsPerS).toBeLessThan(5);
    expect(state.throttles.get("eu-de|20")!.rps).toBeLessThan(5);
  });
});

describe("the loop's own timers at the rate cap", () => {
  it("keeps one alarm across wake-ups: timers per poll stay near the limiter's one, not one more per finished poll", async () => {
    const sim = startSim({ latencyMs: 50 });
    // 1,500 young watches want 750 polls a second: the loop runs at the 200/s cap, woken by every finished poll.
    for (let i = 0; i < 1500; i++) sim.watch(`t${i}`, 3_600 * S, { webhook: false });
    let sleeps = 0;
    const deps = { ...sim.deps, sleep: (ms: number, signal?: AbortSignal) => (sleeps++, sim.deps.sleep(ms, signal)) };
    const start = sim.vt.now;
    const sum = await sim.vt.drive(runPollLoop(deps, createPollerState(), invocation(sim, { concurrency: 64, endAt: start + 20 * S })));
    expect(sum.polls).toBeGreaterThan(3_500);
    // The limiter sets about one timer per token it hands out; the loop's waits
    // (one fresh timer per wake-up before, about one more per poll) add few.
    expect(sleeps / sum.polls).toBeLessThan(1.3);
  });
});
