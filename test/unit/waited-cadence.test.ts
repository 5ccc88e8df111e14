/**
 * A watch a client waits on is polled every 2 s whatever its age: the
 * client's read writes `waited_until` and moves the watch's due entry, the
 * running poll loop's next pickup sees the entry move, and the cadence
 * honours the mark. Virtual time, in-memory ports.
 */
import { describe, expect, it } from "vitest";
import { createPollerState, runPollLoop } from "../../lib/app/poll-loop";
import { readWatch } from "../../lib/app/read-watch";
import { cadenceDelayMs, DEFAULT_CADENCE, nextPollAt } from "../../lib/domain/cadence";
import { startSim } from "../../infra/dev/sim/loop-sim";

const S = 1000;
const MIN = 60 * S;

describe("waited-watch cadence", () => {
  it("nextPollAt: every 2 s while waited, the age's cadence before and after", () => {
    const createdAt = 0;
    const lastPollAt = 40 * MIN;
    expect(cadenceDelayMs(lastPollAt - createdAt, DEFAULT_CADENCE)).toBe(60 * S);
    const at = (waitedUntil: number | null) => nextPollAt({ createdAt, lastPollAt, faults: 0, waitedUntil }, DEFAULT_CADENCE, () => 0.5) - lastPollAt;
    expect(at(null)).toBe(60 * S);
    expect(at(lastPollAt + 30 * S)).toBe(2 * S);
    expect(at(lastPollAt - 1)).toBe(60 * S);
    // A fault still backs off from the young delay, never polls faster than it.
    expect(nextPollAt({ createdAt, lastPollAt, faults: 1, waitedUntil: lastPollAt + MIN }, DEFAULT_CADENCE, () => 0.5) - lastPollAt).toBeGreaterThanOrEqual(2 * S);
  });

  it("a 30-minute-old watch is polled every 2 s from the first pickup after a waiting read, and its end is sent within 5 s", async () => {
    const sim = startSim({ latencyMs: 200 });
    const state = createPollerState();
    sim.watch("old", 2 * 60 * MIN);
    await sim.vt.drive(sim.vt.sleep(30 * MIN));
    const opts = () => ({
      shards: sim.deps.store.dueShards(),
      endAt: sim.vt.now + 58 * S,
      hardStopAt: sim.vt.now + 75 * S,
      concurrency: 16,
      maxRps: 200,
      fullReadEveryMs: 60 * S,
      pickupEveryMs: 5 * S,
      pickupOverlapMs: 5 * S,
    });
    // A first invocation: the old watch polled once a minute.
    await sim.vt.drive(runPollLoop(sim.deps, state, opts()));
    await sim.vt.drive(sim.vt.sleep(2 * S));
    const start = sim.vt.now;
    const markAt = start + 20 * S;
    const endsAt = markAt + 25_500;
    sim.apig.tasks.set("old", { endsAt });
    const loop = runPollLoop(sim.deps, state, opts());
    const client = sim.vt.sleep(20 * S).then(() => readWatch(sim.deps, "acme", "old", { waitS: 0 }));
    const [, read] = await sim.vt.drive(Promise.all([loop, client]));
    expect(read.ok && read.retryAfterS).toBe(3);
    const asked = sim.apig.asked.get("old")!.filter((t) => t >= start);
    const before = asked.filter((t) => t < markAt);
    const after = asked.filter((t) => t >= markAt);
    // Before the read: at most one poll in those 20 s (once a minute).
    expect(before.length).toBeLessThanOrEqual(1);
    // The pickup (every 5 s) finds the moved entry: first poll within 5.5 s of the read...
    expect(after[0]! - markAt).toBeLessThanOrEqual(5_500);
    // ...then every 2 s until the task ended.
    const gaps = after.slice(1).map((t, i) => t - after[i]!);
    expect(gaps.length).toBeGreaterThanOrEqual(9);
    for (const g of gaps) expect(g).toBeLessThanOrEqual(2_300);
    const sent = sim.sent.find((x) => x.taskId === "old");
    expect(sent).toBeDefined();
    expect(sent!.at - endsAt).toBeLessThanOrEqual(5_000);
  });
});
