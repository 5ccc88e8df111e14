/**
 * Subscriptions end to end: the API (create, idempotent repeat, 409, list,
 * delete, tenant isolation, secrets never shown) and the outbox they feed
 * (matching by outcome, task type and labels at the terminal moment, one
 * delivery per destination, later changes never touching a finished watch).
 * Also `POST /targets/test`.
 */
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, KEYS, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const FAILED = JSON.stringify({ error_code: "APIG.3201", error_msg: "bad document" });
const OK = JSON.stringify({ group_id: "g", success: [], failure: [] });
const PARTIAL = JSON.stringify({ group_id: "g", success: [], failure: [{ method: "GET", path: "/a", error_code: "APIG.1", error_msg: "no" }] });

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});
async function harness(): Promise<Harness> {
  const h = await startHarness();
  open.push(h);
  return h;
}

interface SubAnswer {
  name: string;
  notify: Array<{ type: string; url: string }>;
  items: Array<{ name: string; notify: unknown[] }>;
}
const sub = (a: { json: unknown }) => a.json as SubAnswer;

describe("the /subscriptions API", () => {
  it("201 then 200 for the same body, 409 for another; listed and deleted by its own tenant only; secrets never shown back", async () => {
    const h = await harness();
    const body = {
      name: "prod-failures",
      match: { outcome: ["failed", "partial"], task_type: ["import_api"], labels: { env: "prod" } },
      notify: [
        { type: "slack", webhook_url: "http://127.0.0.1:9/services/T000/B000/slacksecretpart" },
        { type: "webhook", url: "http://127.0.0.1:9/hooks/path-secret", secret: SECRET },
        { type: "pagerduty", routing_key: "R0123456789abcdef0123456789abcde", dedup_label: "pipeline" },
      ],
    };
    const created = await h.call("POST", "/subscriptions", { body });
    expect(created.status).toBe(201);
    expect(sub(created)).toMatchObject({ name: "prod-failures", match: body.match });
    expect(sub(created).notify.map((t) => t.url)).toEqual(["http://127.0.0.1:9", "http://127.0.0.1:9", "https://events.pagerduty.com"]);
    expect((await h.call("POST", "/subscriptions", { body })).status).toBe(200);
    const other = await h.call("POST", "/subscriptions", { body: { ...body, match: { outcome: ["failed"] } } });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe("conflict");

    const listed = await h.call("GET", "/subscriptions");
    expect(sub(listed).items.map((s) => s.name)).toEqual(["prod-failures"]);
    for (const a of [created, listed]) {
      for (const secret of [SECRET, "slacksecretpart", "path-secret", "R0123456789abcdef0123456789abcde"]) expect(a.text).not.toContain(secret);
    }

    // Another tenant sees none of it, cannot delete it, and may use the same name for its own.
    expect(sub(await h.call("GET", "/subscriptions", { key: KEYS.other })).items).toEqual([]);
    expect((await h.call("DELETE", "/subscriptions/prod-failures", { key: KEYS.other })).status).toBe(404);
    expect((await h.call("POST", "/subscriptions", { body: { ...body, match: {} }, key: KEYS.other })).status).toBe(201);
    expect((await h.call("DELETE", "/subscriptions/prod-failures")).status).toBe(204);
    expect((await h.call("DELETE", "/subscriptions/prod-failures")).status).toBe(404);
    expect(sub(await h.call("GET", "/subscriptions")).items).toEqual([]);
    expect(sub(await h.call("GET", "/subscriptions", { key: KEYS.other })).items).toHaveLength(1);
    expect((await h.call("GET", "/subscriptions", { key: null })).status).toBe(401);
  });

  it("refuses bad bodies with 400: no targets, an unknown outcome, a bad name, a private URL field shape", async () => {
    const h = await harness();
    for (const body of [
      { name: "x", notify: [] },
      { name: "x", match: { outcome: ["cancelled"] }, notify: [{ type: "slack", webhook_url: "http://127.0.0.1:9/s" }] },
      { name: "bad name!", notify: [{ type: "slack", webhook_url: "http://127.0.0.1:9/s" }] },
      { name: "x", notify: [{ type: "teams", url: "http://127.0.0.1:9/s" }] },
      { name: "x", notify: [{ type: "eventbridge", event_bus_arn: "arn:aws:events:eu-central-1:123456789012:event-bus/x" }] },
    ]) {
      const r = await h.call("POST", "/subscriptions", { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("subscriptions feed the outbox when a watch turns terminal", () => {
  it("match by outcome, task type and labels; another tenant's subscription never sees the watch", async () => {
    const h = await harness();
    const onCall = await useReceiver();
    const everything = await useReceiver();
    const othersAll = await useReceiver();
    await h.call("POST", "/subscriptions", {
      body: {
        name: "prod-import-failures",
        match: { outcome: ["failed", "partial"], task_type: ["import_api"], labels: { env: "prod" } },
        notify: [{ type: "slack", webhook_url: `${onCall.url}/oncall` }],
      },
    });
    await h.call("POST", "/subscriptions", { body: { name: "all", notify: [{ type: "mattermost", webhook_url: `${everything.url}/all` }] } });
    await h.call("POST", "/subscriptions", { key: KEYS.other, body: { name: "all", notify: [{ type: "slack", webhook_url: `${othersAll.url}/x` }] } });

    const cases: Array<[string, string, "import_api" | "export_api", Record<string, string>, boolean]> = [
      ["m-failed-prod", FAILED, "import_api", { env: "prod" }, true],
      ["m-partial-prod", PARTIAL, "import_api", { env: "prod", team: "a" }, true],
      ["m-ok-prod", OK, "import_api", { env: "prod" }, false],
      ["m-failed-dev", FAILED, "import_api", { env: "dev" }, false],
      ["m-failed-nolabel", FAILED, "import_api", {}, false],
      ["m-export-failed-prod", FAILED, "export_api", { env: "prod" }, false],
    ];
    for (const [id, result, type, labels] of cases) {
      h.task(id, [{ status: result === FAILED ? "failed" : "succeed", result }], type);
      await h.call("POST", "/tasks", { body: registration(id, [], { labels }) });
    }
    await h.tick();
    const oncallTasks = onCall.received.map((r) => JSON.stringify(JSON.parse(r.body)).match(/m-[a-z-]+/)?.[0]).sort();
    expect(oncallTasks).toEqual(cases.filter((c) => c[4]).map((c) => c[0]).sort());
    expect(everything.received).toHaveLength(cases.length);
    expect(othersAll.received).toHaveLength(0);
    const w = (await h.call("GET", "/tasks/m-failed-prod")).json;
    // Subscriptions in name order, after the registration's own targets (none here).
    expect(w.notify).toEqual([
      expect.objectContaining({ id: "t0", type: "mattermost", state: "delivered", subscription: "all" }),
      expect.objectContaining({ id: "t1", type: "slack", state: "delivered", subscription: "prod-import-failures" }),
    ]);
  });

  it("a target named by both the registration and a subscription is delivered once", async () => {
    const h = await harness();
    const r = await useReceiver();
    await h.call("POST", "/subscriptions", { body: { name: "dup", notify: [{ type: "slack", webhook_url: `${r.url}/same` }] } });
    await h.call("POST", "/subscriptions", { body: { name: "dup2", notify: [{ type: "slack", webhook_url: `${r.url}/same` }] } });
    h.task("dup-1", [{ status: "failed", result: FAILED }]);
    await h.call("POST", "/tasks", { body: registration("dup-1", [{ type: "slack", webhook_url: `${r.url}/same` }]) });
    await h.tick();
    await h.tick();
    expect(r.received).toHaveLength(1);
    const w = (await h.call("GET", "/tasks/dup-1")).json;
    expect(w.notify).toHaveLength(1);
    expect(w.notify[0]).toMatchObject({ state: "delivered" });
    expect(w.notify[0]!.subscription).toBeUndefined();
  });

  it("registering a finished watch again with the same body is still a 200, whatever its subscriptions added", async () => {
    const h = await harness();
    const r = await useReceiver();
    await h.call("POST", "/subscriptions", { body: { name: "extra", notify: [{ type: "slack", webhook_url: `${r.url}/extra` }] } });
    h.task("again-1", [{ status: "failed", result: FAILED }]);
    const body = registration("again-1", [{ type: "slack", webhook_url: `${r.url}/own` }]);
    expect((await h.call("POST", "/tasks", { body })).status).toBe(201);
    const repeat = await h.call("POST", "/tasks", { body });
    expect(repeat.status).toBe(200);
    expect(repeat.json.notify.map((t) => t.subscription ?? "own")).toEqual(["own", "extra"]);
  });

  it("subscriptions are read when the watch ends: one made while it runs counts, a change after it ended neither adds nor removes a delivery", async () => {
    let now = Date.now();
    const h = await startHarness({ env: { NOTIFY_RETRY_S: "1,1" }, overrides: { clock: () => new Date(now) } });
    open.push(h);
    const r = await useReceiver();
    const late = await useReceiver();
    r.replies.push({ status: 503 });
    h.task("sub-late", ["processing", { status: "failed", result: FAILED }]);
    await h.call("POST", "/tasks", { body: registration("sub-late") });
    // Created while the watch runs: it matches when the watch ends.
    await h.call("POST", "/subscriptions", { body: { name: "s1", notify: [{ type: "webhook", url: `${r.url}/h`, secret: SECRET }] } });
    now += 3_000;
    await h.tick();
    expect((await h.call("GET", "/tasks/sub-late")).json.status).toBe("failed");
    expect(r.received).toHaveLength(1);
    // Deleted during the retries, and another created: the watch keeps its outbox as it was.
    expect((await h.call("DELETE", "/subscriptions/s1")).status).toBe(204);
    await h.call("POST", "/subscriptions", { body: { name: "s2", notify: [{ type: "slack", webhook_url: `${late.url}/s` }] } });
    for (let i = 0; i < 3; i++) {
      now += 2_000;
      await h.tick();
    }
    expect(r.received).toHaveLength(2);
    expect(late.received).toHaveLength(0);
    const w = (await h.call("GET", "/tasks/sub-late")).json;
    expect(w.notify).toEqual([expect.objectContaining({ subscription: "s1", state: "delivered", attempts: 2 })]);
    const event = new Webhook(SECRET.slice(6)).verify(r.received[1]!.body, {
      "webhook-id": String(r.received[1]!.headers["webhook-id"]),
      "webhook-timestamp": String(r.received[1]!.headers["webhook-timestamp"]),
      "webhook-signature": String(r.received[1]!.headers["webhook-signature"]),
    }) as { type: string };
    expect(event.type).toBe("task.failed");
  });
});

describe("POST /targets/test", () => {
  it("200 with the receiver's status and time; a signed task.test event to a webhook", async () => {
    const h = await harness();
    const r = await useReceiver();
    r.fallback = { status: 202, body: "accepted" };
    const a = await h.call("POST", "/targets/test", { body: { target: { type: "webhook", url: `${r.url}/h`, secret: SECRET } } });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ ok: true, status: 202, sent_at: expect.any(String), duration_ms: expect.any(Number) });
    const hit = r.received[0]!;
    const event = new Webhook(SECRET.slice(6)).verify(hit.body, {
      "webhook-id": String(hit.headers["webhook-id"]),
      "webhook-timestamp": String(hit.headers["webhook-timestamp"]),
      "webhook-signature": String(hit.headers["webhook-signature"]),
    }) as { type: string; data: { task_id: string } };
    expect(event).toMatchObject({ type: "task.test", data: { task_id: "test-notification" } });
  });

  it("a receiver's 400 is a 422 target_failed with its status and the first 200 bytes it answered", async () => {
    const h = await harness();
    const r = await useReceiver();
    const answer = `{"error":{"code":"InvalidBotAdaptiveCard","message":"${"x".repeat(400)}"}}`;
    r.fallback = { status: 400, body: answer };
    const a = await h.call("POST", "/targets/test", { body: { target: { type: "teams", webhook_url: `${r.url}/workflows/1` } } });
    expect(a.status).toBe(422);
    const err = a.json.error as unknown as { code: string; receiver: { status: number; body: string } };
    expect(err.code).toBe("target_failed");
    expect(err.receiver.status).toBe(400);
    expect(err.receiver.body).toBe(answer.slice(0, 200));
    expect(JSON.parse(r.received[0]!.body)).toMatchObject({ type: "message" });
  });

  it("a receiver that cannot be reached is a 422 with no status; a PagerDuty test triggers at info and resolves what it triggered", async () => {
    const h = await harness();
    const gone = await useReceiver();
    const url = gone.url;
    await gone.close();
    const a = await h.call("POST", "/targets/test", { body: { target: { type: "google_chat", webhook_url: `${url}/v1/spaces/x` } } });
    expect(a.status).toBe(422);
    expect((a.json.error as unknown as { receiver: { status: null } }).receiver.status).toBeNull();

    const pd = await useReceiver();
    pd.fallback = { status: 202, body: '{"status":"success"}' };
    const h2 = await startHarness({ env: { PAGERDUTY_EVENTS_URL: `${pd.url}/v2/enqueue` } });
    open.push(h2);
    const t = await h2.call("POST", "/targets/test", { body: { target: { type: "pagerduty", routing_key: "R0123456789abcdef0123456789abcde" } } });
    expect(t.status).toBe(200);
    expect(pd.received).toHaveLength(2);
    const [trigger, resolve] = pd.received.map((x) => JSON.parse(x.body));
    expect(trigger).toMatchObject({ event_action: "trigger", payload: { severity: "info" } });
    expect(resolve).toEqual({ routing_key: "R0123456789abcdef0123456789abcde", event_action: "resolve", dedup_key: trigger.dedup_key });
  });
});
