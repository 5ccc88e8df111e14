import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import type { Sender } from "../../lib/app/ports";
import { createGuardedAgent, type LookupAll } from "../../lib/notify/ssrf-guard";
import { type Harness, registration, startHarness } from "../support/harness";
import { type Receiver, useReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const DONE = JSON.stringify({ success: [], failure: [], group_id: "g" });

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function setup(env: Record<string, string>, clock?: () => Date): Promise<{ h: Harness; r: Receiver }> {
  const h = await startHarness({ env, ...(clock ? { overrides: { clock } } : {}) });
  const r = await useReceiver();
  open.push(h);
  return { h, r };
}

function finishedTask(h: Harness, taskId: string) {
  h.task(taskId, [{ status: "succeed", result: DONE }]);
}

function verify(hit: { body: string; headers: Record<string, unknown> }) {
  return new Webhook(SECRET.slice("whsec_".length)).verify(hit.body, {
    "webhook-id": String(hit.headers["webhook-id"]),
    "webhook-timestamp": String(hit.headers["webhook-timestamp"]),
    "webhook-signature": String(hit.headers["webhook-signature"]),
  });
}

describe("delivery: outbox, retries, dead letters", () => {
  it("500, 500, 200: three tries, one webhook-id, each freshly signed and verified", async () => {
    let now = Date.now();
    const { h, r } = await setup({ NOTIFY_RETRY_S: "2,2,2" }, () => new Date(now));
    r.replies.push({ status: 500 }, { status: 500 });
    finishedTask(h, "d-retry");
    const reg = await h.call("POST", "/tasks", { body: registration("d-retry", [{ type: "webhook", url: `${r.url}/h`, secret: SECRET }]) });
    // Owed, not sent: the API leaves every delivery to the poller.
    expect(reg.json.notify[0]).toMatchObject({ state: "pending", attempts: 0, last_error: null });
    await h.tick();
    expect((await h.call("GET", "/tasks/d-retry")).json.notify[0]).toMatchObject({ state: "pending", attempts: 1, last_error: expect.stringContaining("500") });
    for (let i = 0; i < 6 && r.received.length < 3; i++) {
      now += 3_000;
      await h.tick();
    }
    expect(r.received).toHaveLength(3);
    const ids = new Set(r.received.map((x) => x.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    const stamps = r.received.map((x) => Number(x.headers["webhook-timestamp"]));
    expect(new Set(stamps).size).toBe(3);
    for (const hit of r.received) expect(() => verify(hit)).not.toThrow();
    const w = (await h.call("GET", "/tasks/d-retry")).json;
    expect(w.notify[0]).toMatchObject({ state: "delivered", attempts: 3, last_error: null });
  });

  it("Slack 429 with Retry-After: 1 is retried no sooner than a second later", async () => {
    let now = Date.now();
    const { h, r } = await setup({ NOTIFY_RETRY_S: "0,0" }, () => new Date(now));
    r.replies.push({ status: 429, headers: { "retry-after": "1" }, body: "rate_limited" });
    finishedTask(h, "d-429");
    await h.call("POST", "/tasks", { body: registration("d-429", [{ type: "slack", webhook_url: `${r.url}/s` }]) });
    await h.tick();
    expect(r.received).toHaveLength(1);
    // The schedule alone would retry at once (NOTIFY_RETRY_S=0): only Retry-After holds it back.
    await h.tick();
    now += 999;
    await h.tick();
    expect(r.received).toHaveLength(1);
    now += 1;
    await h.tick();
    expect(r.received).toHaveLength(2);
    expect((await h.call("GET", "/tasks/d-429")).json.notify[0]?.state).toBe("delivered");
  });

  it("410 Gone ends the target after exactly one try", async () => {
    let now = Date.now();
    const { h, r } = await setup({ NOTIFY_RETRY_S: "1,1,1" }, () => new Date(now));
    r.fallback = { status: 410 };
    finishedTask(h, "d-410");
    await h.call("POST", "/tasks", { body: registration("d-410", [{ type: "webhook", url: `${r.url}/h`, secret: SECRET }]) });
    for (let i = 0; i < 4; i++) {
      now += 5_000;
      await h.tick();
    }
    expect(r.received).toHaveLength(1);
    expect((await h.call("GET", "/tasks/d-410")).json.notify[0]).toMatchObject({ state: "dead", attempts: 1 });
  });

  it("an always-failing target is dead after 1 + retries tries, visible in the API and logged for a metric", async () => {
    let now = Date.now();
    const { h, r } = await setup({ NOTIFY_RETRY_S: "1,1,1" }, () => new Date(now));
    r.fallback = { status: 503, body: "down" };
    finishedTask(h, "d-dead");
    await h.call("POST", "/tasks", { body: registration("d-dead", [{ type: "webhook", url: `${r.url}/h`, secret: SECRET }]) });
    for (let i = 0; i < 8; i++) {
      now += 5_000;
      await h.tick();
    }
    expect(r.received).toHaveLength(4);
    const w = (await h.call("GET", "/tasks/d-dead")).json;
    expect(w.notify[0]).toMatchObject({ state: "dead", attempts: 4, last_error: expect.stringContaining("503") });
    const dead = h.logs.map((l) => JSON.parse(l)).filter((l) => l.event === "delivery_dead");
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ level: "ERROR", message: "delivery_dead", task_id: "d-dead", tenant: expect.any(String), type: "webhook", attempts: 4 });
  });

  it("redirects are failures, not followed", async () => {
    let now = Date.now();
    const { h, r } = await setup({ NOTIFY_RETRY_S: "1" }, () => new Date(now));
    const target = await useReceiver();
    r.fallback = { status: 307, headers: { location: `${target.url}/elsewhere` } };
    finishedTask(h, "d-302");
    await h.call("POST", "/tasks", { body: registration("d-302", [{ type: "slack", webhook_url: `${r.url}/s` }]) });
    await h.tick();
    now += 5_000;
    await h.tick();
    expect(r.received).toHaveLength(2);
    expect(target.received).toHaveLength(0);
    expect((await h.call("GET", "/tasks/d-302")).json.notify[0]).toMatchObject({ state: "dead", last_error: expect.stringContaining("redirect") });
  });

  it("a crash between the terminal write and the delivery: the next tick delivers exactly what is owed", async () => {
    let now = Date.now();
    const { h, r } = await setup({}, () => new Date(now));
    const slack = await useReceiver();
    h.task("d-crash", ["processing", { status: "succeed", result: DONE }]);
    await h.call("POST", "/tasks", {
      body: registration("d-crash", [
        { type: "webhook", url: `${r.url}/h`, secret: SECRET },
        { type: "slack", webhook_url: `${slack.url}/s` },
      ]),
    });
    // This "process" records the transition, then dies before sending anything.
    const dying = h.twin();
    let sending!: () => void;
    const sendStarted = new Promise<void>((r) => (sending = r));
    // It gets as far as its first send (the transition is written before it) and hangs there.
    const hang: Sender = {
      send: () => {
        sending();
        return new Promise(() => undefined);
      },
    };
    dying.sender = hang;
    void h.tick(dying);
    await sendStarted;
    expect((await h.call("GET", "/tasks/d-crash")).json.status).toBe("succeed");
    expect((await h.call("GET", "/tasks/d-crash")).json.notify.map((t: { state: string }) => t.state)).toEqual(["pending", "pending"]);
    // While the dead tick's lease holds, nobody else sends.
    await h.tick();
    expect(r.received.length + slack.received.length).toBe(0);
    // Once it has expired, the next tick delivers each owed notification once.
    now += 61_000;
    await h.tick();
    await h.tick();
    expect(r.received).toHaveLength(1);
    expect(slack.received).toHaveLength(1);
    expect(() => verify(r.received[0]!)).not.toThrow();
    expect((await h.call("GET", "/tasks/d-crash")).json.notify.map((t: { state: string }) => t.state)).toEqual(["delivered", "delivered"]);
  });

  it("the configured default targets are used when a registration names none", async () => {
    const r = await useReceiver();
    const h = await startHarness({ env: { DEFAULT_WEBHOOK_URL: `${r.url}/default`, DEFAULT_WEBHOOK_SECRET: SECRET } });
    open.push(h);
    finishedTask(h, "d-default");
    const reg = await h.call("POST", "/tasks", { body: { project_id: "proj1", instance_id: "inst1", task_id: "d-default" } });
    expect(reg.json.notify).toEqual([expect.objectContaining({ type: "webhook", state: "pending", url: r.url })]);
    await h.tick();
    expect((await h.call("GET", "/tasks/d-default")).json.notify).toEqual([expect.objectContaining({ state: "delivered" })]);
    expect(() => verify(r.received[0]!)).not.toThrow();
  });

  it("SSRF: private targets are refused at registration, and a name resolving to loopback is refused when connecting", async () => {
    const r = await useReceiver();
    const port = new URL(r.url).port;
    // "evil.test" passes registration as a name, then resolves to 127.0.0.1 (DNS rebinding).
    const lookup: LookupAll = (_host, _opts, cb) => cb(null, [{ address: "127.0.0.1", family: 4 }]);
    let now = Date.now();
    const h = await startHarness({
      env: { ALLOW_PRIVATE_TARGETS: "false", NOTIFY_RETRY_S: "1" },
      overrides: { clock: () => new Date(now), notifyDispatcher: createGuardedAgent({ allowPrivate: false, lookup }) },
    });
    open.push(h);
    for (const url of [`http://127.0.0.1:${port}/h`, `https://127.0.0.1:${port}/h`, "https://[::ffff:7f00:1]/h", "https://localhost/h", "https://169.254.169.254/latest"]) {
      const bad = await h.call("POST", "/tasks", { body: registration("d-ssrf-reg", [{ type: "webhook", url, secret: SECRET }]) });
      expect(bad.status, url).toBe(400);
      expect(bad.json.error.issues[0]?.path).toBe("notify.0.url");
    }
    finishedTask(h, "d-ssrf");
    const reg = await h.call("POST", "/tasks", { body: registration("d-ssrf", [{ type: "webhook", url: `https://evil.test:${port}/h`, secret: SECRET }]) });
    expect(reg.status).toBe(201);
    await h.tick();
    now += 5_000;
    await h.tick();
    expect(r.received).toHaveLength(0);
    // Refused at connect: dead on the first try, not retried for a day.
    expect((await h.call("GET", "/tasks/d-ssrf")).json.notify[0]).toMatchObject({ state: "dead", attempts: 1, last_error: "target address not allowed" });
  });
});
