/**
 * Every row of the APIG error table (docs/api.md), through the real poller,
 * dynalite and the simulator on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScriptedAnswer } from "../../infra/dev/apig-simulator";
import { type Harness, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { APIG_TIMEOUT_MS: "300" } });
});
afterAll(async () => {
  await h?.close();
});

const json = (status: number, code: string, msg = "m"): ScriptedAnswer => ({
  status,
  body: JSON.stringify({ error_code: code, error_msg: msg }),
  headers: { "content-type": "application/json" },
});

type Expect = { status: string; last_error: { code: string; http_status: number | null } | null; notified: boolean };

const rows: Array<[string, ScriptedAnswer, Expect]> = [
  ["400 APIG.2001 -> error", json(400, "APIG.2001"), { status: "error", last_error: { code: "APIG.2001", http_status: 400 }, notified: true }],
  ["403 APIG.1005 -> error", json(403, "APIG.1005"), { status: "error", last_error: { code: "APIG.1005", http_status: 403 }, notified: true }],
  ["401 APIG.1002 with a static token -> kept, shown", json(401, "APIG.1002"), { status: "processing", last_error: { code: "APIG.1002", http_status: 401 }, notified: false }],
  ["401 APIC.7101 -> kept, shown", json(401, "APIC.7101"), { status: "processing", last_error: { code: "APIC.7101", http_status: 401 }, notified: false }],
  ["500 APIG.9008 throttled -> transient", json(500, "APIG.9008"), { status: "processing", last_error: { code: "APIG.9008", http_status: 500 }, notified: false }],
  ["500 APIG.3500 -> transient", json(500, "APIG.3500"), { status: "processing", last_error: { code: "APIG.3500", http_status: 500 }, notified: false }],
  ["502 HTML page -> transient", { status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>", headers: { "content-type": "text/html" } }, { status: "processing", last_error: { code: "http_502", http_status: 502 }, notified: false }],
  ["503 empty body -> transient", { status: 503 }, { status: "processing", last_error: { code: "http_503", http_status: 503 }, notified: false }],
  ["429 -> transient", { status: 429, headers: { "retry-after": "3" } }, { status: "processing", last_error: { code: "http_429", http_status: 429 }, notified: false }],
  ["200 with garbage -> transient", { status: 200, body: "{not json" }, { status: "processing", last_error: { code: "bad_response", http_status: 200 }, notified: false }],
  ["timeout -> transient", { delayMs: 1500 }, { status: "processing", last_error: { code: "timeout", http_status: null }, notified: false }],
  ["connection reset -> transient", { reset: true }, { status: "processing", last_error: { code: expect.any(String) as unknown as string, http_status: null }, notified: false }],
];

describe("APIG error table through the poller", () => {
  it.each(rows)("%s", async (name, answer, want) => {
    const id = `err-${name.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}`;
    const r = await useReceiver();
    h.task(id, ["processing"]);
    const reg = await h.call("POST", "/tasks", { body: registration(id, [{ type: "slack", webhook_url: `${r.url}/${id}` }]) });
    expect(reg.json.status).toBe("processing");
    h.sim.script(id, [answer]);
    const summary = await h.tick();
    expect(summary.errors).toBe(0);
    const w = (await h.call("GET", `/tasks/${id}`)).json;
    expect(w.status).toBe(want.status);
    expect(w.last_error).toMatchObject(want.last_error ?? {});
    if (want.notified) {
      const [hit] = await r.waitFor(1);
      expect(hit?.path).toBe(`/${id}`);
    } else {
      expect(r.received).toEqual([]);
    }
  });

  it("the static token never shows in logs or answers", async () => {
    h.task("err-token", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("err-token") });
    h.sim.script("err-token", [json(401, "APIG.1002")]);
    await h.tick();
    const all = h.logs.join("\n");
    expect(all).not.toContain("sim-static-token");
    const list = await h.call("GET", "/tasks?limit=100");
    expect(list.text).not.toContain("sim-static-token");
  });
});
