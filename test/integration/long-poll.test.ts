/** GET /tasks/{task_id}?wait=S over HTTP: the query is checked and the wait reaches the use case. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, registration, startHarness } from "../support/harness";

const DONE = JSON.stringify({ success: [{ id: "a", method: "GET", path: "/a", action: "create" }], failure: [], group_id: "g" });

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

describe("?wait= long-poll", () => {
  // How soon a wait answers, and how often it reads, is shown on virtual time in test/unit/read-watch.test.ts.
  it("answers a running watch's current state when the wait runs out", async () => {
    h.task("lp-run", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("lp-run") });
    const r = await h.call("GET", "/tasks/lp-run?wait=1");
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: "processing", outcome: null });
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
