/** POST /tasks/{task_id}/redeliver and each target's attempts_log. */
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const DONE = JSON.stringify({ success: [], failure: [], group_id: "g" });

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

function verified(hit: { body: string; headers: Record<string, unknown> }): { type: string; data: { task_id: string } } {
  return new Webhook(SECRET.slice("whsec_".length)).verify(hit.body, {
    "webhook-id": String(hit.headers["webhook-id"]),
    "webhook-timestamp": String(hit.headers["webhook-timestamp"]),
    "webhook-signature": String(hit.headers["webhook-signature"]),
  }) as { type: string; data: { task_id: string } };
}

describe("redelivery", () => {
  it("sends a dead notification again with the same webhook-id, and logs each try", async () => {
    const r = await useReceiver();
    r.replies.push({ status: 410, body: "gone for now" });
    h.task("rd-dead", [{ status: "succeed", result: DONE }]);
    await h.call("POST", "/tasks", { body: registration("rd-dead", [{ type: "webhook", url: `${r.url}/h`, secret: SECRET }]) });
    // The poller sends what registration stored as owed.
    await h.tick();
    const dead = (await h.call("GET", "/tasks/rd-dead")).json;
    expect(dead.notify[0]).toMatchObject({ state: "dead", attempts: 1 });
    expect(dead.notify[0]!.attempts_log).toEqual([
      { at: expect.any(String), http_status: 410, duration_ms: expect.any(Number), error: "HTTP 410: gone for now" },
    ]);

    const again = await h.call("POST", "/tasks/rd-dead/redeliver");
    expect(again.status).toBe(202);
    expect(again.json.notify[0]).toMatchObject({ state: "pending", attempts: 0 });
    await h.tick();
    await r.waitFor(2);
    const [first, second] = r.received;
    expect(verified(second!)).toMatchObject({ type: "task.succeeded", data: { task_id: "rd-dead" } });
    expect(verified(first!).type).toBe("task.succeeded");
    expect(second!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);

    const w = (await h.call("GET", "/tasks/rd-dead")).json;
    expect(w.notify[0]).toMatchObject({ state: "delivered", attempts: 1 });
    expect(w.notify[0]!.attempts_log.map((a) => [a.http_status, a.error])).toEqual([
      [410, "HTTP 410: gone for now"],
      [200, null],
    ]);
  });

  it("redelivers only the named targets, and a delivered one too", async () => {
    const a = await useReceiver();
    const b = await useReceiver();
    h.task("rd-some", [{ status: "succeed", result: DONE }]);
    await h.call("POST", "/tasks", {
      body: registration("rd-some", [
        { type: "webhook", url: `${a.url}/a`, secret: SECRET },
        { type: "webhook", url: `${b.url}/b`, secret: SECRET },
      ]),
    });
    await h.tick();
    expect([a.received.length, b.received.length]).toEqual([1, 1]);
    const r = await h.call("POST", "/tasks/rd-some/redeliver", { body: { targets: ["t1"] } });
    expect(r.status).toBe(202);
    expect(r.json.notify.map((t) => t.state)).toEqual(["delivered", "pending"]);
    await h.tick();
    await b.waitFor(2);
    expect(a.received.length).toBe(1);
    expect(b.received[1]!.headers["webhook-id"]).toBe(b.received[0]!.headers["webhook-id"]);
    expect((await h.call("POST", "/tasks/rd-some/redeliver", { body: { targets: ["t7"] } })).status).toBe(400);
  });

  it("answers 409 for a watch still running or cancelled, 404 for none", async () => {
    h.task("rd-run", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("rd-run") });
    const running = await h.call("POST", "/tasks/rd-run/redeliver");
    expect(running.status).toBe(409);
    expect(running.json.error.code).toBe("not_finished");
    await h.call("DELETE", "/tasks/rd-run");
    expect((await h.call("POST", "/tasks/rd-run/redeliver")).status).toBe(409);
    expect((await h.call("POST", "/tasks/rd-nope/redeliver")).status).toBe(404);
  });
});
