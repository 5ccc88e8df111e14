/**
 * GET /tasks/{task_id}?wait=S: answers once the watch ends, reading the table
 * once per expected poll (the `Retry-After` rhythm: 3 s for a waited watch),
 * not every few hundred milliseconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, registration, startHarness } from "../support/harness";

const DONE = JSON.stringify({ success: [{ id: "a", method: "GET", path: "/a", action: "create" }], failure: [], group_id: "g" });

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe("?wait= long-poll", () => {
  it("answers within one Retry-After (3 s) of the task ending", async () => {
    h.task("lp-end", ["processing"]);
    expect((await h.call("POST", "/tasks", { body: registration("lp-end") })).json.status).toBe("processing");
    const started = Date.now();
    const waiting = h.call("GET", "/tasks/lp-end?wait=20").then((r) => ({ ...r, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 3000));
    h.task("lp-end", [{ status: "succeed", result: DONE }]);
    await h.tick();
    const ended = Date.now();
    const r = await waiting;
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: "succeed", outcome: "succeeded" });
    console.log(`long-poll answered ${r.at - ended} ms after the terminal write`);
    expect(r.at - ended).toBeLessThan(3500);
    expect(r.at - started).toBeGreaterThanOrEqual(3000);
  });

  it("answers after S seconds with the current state, 200, reading the table a handful of times", async () => {
    h.task("lp-run", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("lp-run") });
    const reads = h.commands.GetItemCommand ?? 0;
    const t0 = Date.now();
    const r = await h.call("GET", "/tasks/lp-run?wait=3");
    const took = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: "processing", outcome: null });
    expect(took).toBeGreaterThanOrEqual(2900);
    expect(took).toBeLessThan(5000);
    // One read at the start, one when the next poll has landed (3 s): the old
    // loop read 6 times in 3 s (21 in 25 s); a busy loop would make hundreds.
    const used = (h.commands.GetItemCommand ?? 0) - reads;
    expect(used).toBe(2);
  });

  it("GET answers at once with Retry-After while the watch runs, none once it is terminal", async () => {
    h.task("ra-run", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("ra-run") });
    const writes = h.commands.PutItemCommand ?? 0;
    const look = await h.call("GET", "/tasks/ra-run");
    // Young: polled every 2 s, plus the answer's lag.
    expect(look.headers["retry-after"]).toBe("3");
    expect(h.commands.PutItemCommand ?? 0).toBe(writes);
    // A waiting client's read marks it (one write), the next one within the minute does not.
    expect((await h.call("GET", "/tasks/ra-run?wait=0")).headers["retry-after"]).toBe("3");
    expect((await h.call("GET", "/tasks/ra-run?wait=0")).status).toBe(200);
    expect((h.commands.PutItemCommand ?? 0) - writes).toBe(1);
    h.task("ra-run", [{ status: "succeed", result: DONE }]);
    await h.tick();
    const done = await h.call("GET", "/tasks/ra-run");
    expect(done.json.status).toBe("succeed");
    expect(done.headers["retry-after"]).toBeUndefined();
  });

  it("answers a terminal watch at once, and refuses a wait outside 0..25", async () => {
    h.task("lp-done", [{ status: "succeed", result: DONE }]);
    await h.call("POST", "/tasks", { body: registration("lp-done") });
    const t0 = Date.now();
    expect((await h.call("GET", "/tasks/lp-done?wait=25")).json.status).toBe("succeed");
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const w of ["26", "-1", "1.5", "abc"]) {
      const r = await h.call("GET", `/tasks/lp-done?wait=${w}`);
      expect(r.status, w).toBe(400);
      expect(r.json.error.issues[0]?.path).toBe("wait");
    }
    expect((await h.call("GET", "/tasks/lp-none?wait=1")).status).toBe(404);
  });
});
