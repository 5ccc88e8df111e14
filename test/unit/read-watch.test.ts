/**
 * Long-poll (`GET /tasks/{id}?wait=S`) on virtual time: it answers as soon as
 * the watch ends, or after S seconds, without hammering the table.
 */
import { describe, expect, it } from "vitest";
import { readWatch } from "../../lib/app/read-watch";
import { startSim } from "../support/sim";

const S = 1000;

describe("readWatch", () => {
  it("answers within 1.5 s of the watch ending", async () => {
    const sim = startSim();
    sim.watch("t1", 3600 * S);
    const started = sim.vt.now;
    const waiting = readWatch(sim.deps, "acme", "t1", 20).then((r) => ({ r, at: sim.vt.now }));
    // Another writer finishes the watch 3.1 s into the wait.
    const finish = sim.vt.sleep(3100).then(() => {
      const w = sim.store.peek("acme", "t1")!;
      sim.store.seed({ ...w, status: "succeed", finished_at: sim.vt.clock().toISOString(), version: w.version + 1 });
    });
    const { r, at } = await sim.vt.drive(Promise.all([waiting, finish]).then(([x]) => x));
    expect(r).toMatchObject({ ok: true, watch: { status: "succeed" } });
    expect(at - started).toBeGreaterThanOrEqual(3100);
    expect(at - (started + 3100)).toBeLessThanOrEqual(1500);
  });

  it("answers after S seconds with the current state, reading the table a handful of times", async () => {
    const sim = startSim();
    sim.watch("t1", 3600 * S);
    const reads = sim.store.counts.gets;
    const started = sim.vt.now;
    const r = await sim.vt.drive(readWatch(sim.deps, "acme", "t1", 3));
    expect(r).toMatchObject({ ok: true, watch: { status: "processing" } });
    expect(sim.vt.now - started).toBe(3000);
    // 250 ms growing to 1.5 s: 6 reads in 3 s (at 0, 0.25, 0.63, 1.19, 2.03 and 3 s); a busy loop would make hundreds.
    expect(sim.store.counts.gets - reads).toBe(6);
  });

  it("answers a terminal watch at once and a missing one as not_found", async () => {
    const sim = startSim();
    sim.watch("t1", 0);
    const w = sim.store.peek("acme", "t1")!;
    sim.store.seed({ ...w, status: "failed" });
    const started = sim.vt.now;
    expect(await sim.vt.drive(readWatch(sim.deps, "acme", "t1", 25))).toMatchObject({ ok: true, watch: { status: "failed" } });
    expect(sim.vt.now).toBe(started);
    expect(await sim.vt.drive(readWatch(sim.deps, "acme", "nope", 25))).toEqual({ ok: false, reason: "not_found" });
  });
});
