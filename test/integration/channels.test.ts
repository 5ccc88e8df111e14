/**
 * Every channel against a local receiver: the payload each service expects,
 * within its size limit even for an import with 200 failures; retries and
 * 410 through the same outbox; PagerDuty trigger and resolve on one dedup
 * key; EventBridge PutEvents signed with SigV4 (checked by the receiver).
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, registration, startHarness } from "../support/harness";
import { type Receiver, useReceiver } from "../support/receiver";
import { TEST_CREDENTIALS, useEventBridge, verifySigV4 } from "../support/sigv4-receiver";

const BUS = "arn:aws:events:eu-central-1:123456789012:event-bus/deployments";
const OTHER_BUS = "arn:aws:events:eu-central-1:123456789012:event-bus/not-listed";
const ROUTING_KEY = "R0123456789abcdef0123456789abcde";

/** An import APIG reports `succeed` with 200 failed APIs, each with a long message in several scripts. */
const PARTIAL_200 = JSON.stringify({
  group_id: "g1",
  success: [{ id: "a1", method: "GET", path: "/ok", action: "create" }],
  failure: Array.from({ length: 200 }, (_, i) => ({
    method: "POST",
    path: `/v1/resources/${i}/with/a/rather/long/path`,
    error_code: "APIG.3301",
    error_msg: `Parameter <b>invalid</b> & "quoted" 参数无效 😀 ${"x".repeat(3000)}`,
  })),
});
const FAILED = JSON.stringify({ error_code: "APIG.3201", error_msg: "the document could not be parsed" });
const OK = JSON.stringify({ group_id: "g1", success: [{ id: "a1", method: "GET", path: "/ok", action: "create" }], failure: [] });

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

async function harness(env: Record<string, string> = {}, clock?: () => Date): Promise<Harness> {
  const h = await startHarness({
    env: {
      EVENTBRIDGE_BUS_ARNS: BUS,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      ...env,
    },
    ...(clock ? { overrides: { clock } } : {}),
  });
  open.push(h);
  return h;
}

const bytes = (s: string) => Buffer.byteLength(s, "utf8");

describe("chat channels: payload shape and size limits", () => {
  it("Teams envelope and bare card, Google Chat and Mattermost each carry outcome, task, gateway, duration, counts and failures, within their limits", async () => {
    const h = await harness();
    const teams = await useReceiver();
    const card = await useReceiver();
    const chat = await useReceiver();
    const mm = await useReceiver();
    teams.fallback = { status: 202 };
    h.task("ch-200", [{ status: "succeed", result: PARTIAL_200 }]);
    const reg = await h.call("POST", "/tasks", {
      body: registration("ch-200", [
        { type: "teams", webhook_url: `${teams.url}/workflows/1` },
        { type: "teams", webhook_url: `${card.url}/workflows/2`, format: "card" },
        { type: "google_chat", webhook_url: `${chat.url}/v1/spaces/AAA/messages?key=k&token=t` },
        { type: "mattermost", webhook_url: `${mm.url}/hooks/xyz` },
      ]),
    });
    expect(reg.status).toBe(201);
    // The API shows the targets without their URLs' paths (Teams and Chat URLs carry credentials).
    expect(reg.json.notify.map((t) => t.url)).toEqual([teams.url, card.url, chat.url, mm.url]);
    await h.tick();
    for (const r of [teams, card, chat, mm]) expect(r.received).toHaveLength(1);

    const envelope = JSON.parse(teams.received[0]!.body);
    expect(bytes(teams.received[0]!.body)).toBeLessThanOrEqual(28 * 1024);
    expect(envelope).toMatchObject({ type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive" }] });
    const content = envelope.attachments[0].content;
    expect(content).toMatchObject({ type: "AdaptiveCard", version: "1.5" });
    const bare = JSON.parse(card.received[0]!.body);
    expect(bytes(card.received[0]!.body)).toBeLessThanOrEqual(28 * 1024);
    expect(bare).toMatchObject({ type: "AdaptiveCard", version: "1.5" });
    expect(bare.attachments).toBeUndefined();
    for (const c of [content, bare]) {
      const text = JSON.stringify(c);
      expect(text).toContain("Import partly succeeded: 200 APIs failed");
      expect(text).toContain("inst1");
      expect(text).toContain("ch-200");
      expect(text).toContain("Duration");
      expect(text).toMatch(/"title":"Failed","value":"200"/);
      expect(text).toContain("Failed APIs (first 10 of 200)");
      expect(text).toContain("/v1/resources/9/with");
    }

    const chatBody = chat.received[0]!;
    expect(chatBody.path).toBe("/v1/spaces/AAA/messages?key=k&token=t");
    expect(bytes(chatBody.body)).toBeLessThanOrEqual(32_000);
    const gc = JSON.parse(chatBody.body);
    expect(gc.text).toContain("Import partly succeeded: 200 APIs failed");
    expect(gc.cardsV2[0].card.header.title).toBe("Import partly succeeded: 200 APIs failed");
    const gcText = JSON.stringify(gc.cardsV2);
    expect(gcText).toContain("Failed APIs (first 10 of 200)");
    // Chat card text is HTML: the failure's markup arrives escaped, not rendered.
    expect(gcText).toContain("&lt;b&gt;invalid&lt;/b&gt; &amp;");
    expect(gcText).toContain('"topLabel":"Gateway","text":"inst1"');

    const mmBody = mm.received[0]!.body;
    expect(bytes(mmBody)).toBeLessThanOrEqual(16_383);
    const m = JSON.parse(mmBody);
    expect(m.text).toContain("200 failed");
    expect(m.attachments[0]).toMatchObject({ title: "Import partly succeeded: 200 APIs failed", color: "#ecb22e" });
    expect(m.attachments[0].fields).toEqual(expect.arrayContaining([{ short: true, title: "Gateway", value: "inst1" }, { short: true, title: "Failed", value: "200" }]));
    expect(m.attachments[0].text).toContain("Failed APIs (first 10 of 200)");
    expect(m.blocks).toBeUndefined();

    const w = (await h.call("GET", "/tasks/ch-200")).json;
    expect(w.notify.map((t) => t.state)).toEqual(["delivered", "delivered", "delivered", "delivered"]);
  });
});

describe("every channel keeps the outbox: retries, Retry-After, 410, dead", () => {
  const channels = [
    { type: "teams", target: (url: string) => ({ type: "teams", webhook_url: `${url}/w` }) },
    { type: "google_chat", target: (url: string) => ({ type: "google_chat", webhook_url: `${url}/v1/spaces/X/messages` }) },
    { type: "mattermost", target: (url: string) => ({ type: "mattermost", webhook_url: `${url}/hooks/x` }) },
    { type: "pagerduty", target: () => ({ type: "pagerduty", routing_key: ROUTING_KEY }) },
    { type: "eventbridge", target: () => ({ type: "eventbridge", event_bus_arn: BUS }) },
  ] as const;

  for (const c of channels) {
    it(`${c.type}: 503, 503 then 202 is three tries and delivered; a 410 is dead after one`, async () => {
      let now = Date.now();
      const r = c.type === "eventbridge" ? await useEventBridge() : await useReceiver();
      const h = await harness({ NOTIFY_RETRY_S: "1,1,1", PAGERDUTY_EVENTS_URL: `${r.url}/v2/enqueue`, AWS_ENDPOINT_URL_EVENTBRIDGE: r.url }, () => new Date(now));
      const ok = r.fallback;
      r.replies.push({ status: 503, body: "busy" }, { status: 503, headers: { "retry-after": "3" }, body: "busy" });
      if (c.type !== "eventbridge") r.fallback = { status: 202, body: "{}" };
      h.task("rt-1", [{ status: "failed", result: FAILED }]);
      await h.call("POST", "/tasks", { body: registration("rt-1", [c.target(r.url)]) });
      await h.tick();
      expect(r.received).toHaveLength(1);
      now += 2_000;
      await h.tick();
      expect(r.received).toHaveLength(2);
      // Retry-After: 3 outweighs the 1 s schedule.
      now += 2_000;
      await h.tick();
      expect(r.received).toHaveLength(2);
      now += 2_000;
      await h.tick();
      expect(r.received).toHaveLength(3);
      const w = (await h.call("GET", "/tasks/rt-1")).json;
      expect(w.notify[0]).toMatchObject({ type: c.type, state: "delivered", attempts: 3 });
      expect(w.notify[0]!.attempts_log.map((a) => a.http_status)).toEqual([503, 503, c.type === "eventbridge" ? 200 : 202]);
      // Redelivery works the same for every channel.
      const again = await h.call("POST", "/tasks/rt-1/redeliver", { body: {} });
      expect(again.status).toBe(202);
      now += 1_000;
      await h.tick();
      expect(r.received).toHaveLength(4);

      r.fallback = { status: 410, body: "gone" };
      h.task("rt-2", [{ status: "failed", result: FAILED }]);
      await h.call("POST", "/tasks", { body: registration("rt-2", [c.target(r.url)]) });
      for (let i = 0; i < 3; i++) {
        now += 5_000;
        await h.tick();
      }
      expect(r.received).toHaveLength(5);
      expect((await h.call("GET", "/tasks/rt-2")).json.notify[0]).toMatchObject({ state: "dead", attempts: 1, last_error: expect.stringContaining("410") });
      r.fallback = ok;
    });
  }
});

describe("PagerDuty", () => {
  it("a failure triggers and a later success of the same pipeline resolves, on one dedup key; without dedup_label a success sends nothing", async () => {
    const pd = await useReceiver();
    pd.fallback = { status: 202, body: '{"status":"success","message":"Event processed","dedup_key":"x"}' };
    const h = await harness({ PAGERDUTY_EVENTS_URL: `${pd.url}/v2/enqueue` });
    const target = { type: "pagerduty", routing_key: ROUTING_KEY, region: "eu", dedup_label: "pipeline" };
    h.task("pd-fail", [{ status: "failed", result: FAILED }]);
    h.task("pd-partial", [{ status: "succeed", result: PARTIAL_200 }]);
    h.task("pd-ok", [{ status: "succeed", result: OK }]);
    h.task("pd-ok-plain", [{ status: "succeed", result: OK }]);
    await h.call("POST", "/tasks", { body: registration("pd-fail", [target], { labels: { pipeline: "deploy-42" } }) });
    await h.tick();
    expect(pd.received).toHaveLength(1);
    const trigger = JSON.parse(pd.received[0]!.body);
    expect(pd.received[0]!.path).toBe("/v2/enqueue");
    expect(trigger).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: "trigger",
      dedup_key: "taskwatch/acme/pipeline=deploy-42",
      payload: { severity: "error", source: expect.stringContaining("inst1"), component: "inst1", group: "proj1", class: "import_api" },
    });
    expect(trigger.payload.summary).toContain("Import failed");
    expect(trigger.payload.custom_details).toMatchObject({ outcome: "failed", task_id: "pd-fail", gateway: "inst1", error: expect.stringContaining("APIG.3201") });

    await h.call("POST", "/tasks", { body: registration("pd-partial", [target], { labels: { pipeline: "deploy-43" } }) });
    await h.tick();
    const warning = JSON.parse(pd.received[1]!.body);
    expect(warning).toMatchObject({ event_action: "trigger", dedup_key: "taskwatch/acme/pipeline=deploy-43", payload: { severity: "warning" } });
    expect(warning.payload.custom_details.failed_total).toBe(200);
    expect(bytes(pd.received[1]!.body)).toBeLessThanOrEqual(512 * 1024);

    await h.call("POST", "/tasks", { body: registration("pd-ok", [target], { labels: { pipeline: "deploy-42" } }) });
    await h.tick();
    expect(pd.received).toHaveLength(3);
    expect(JSON.parse(pd.received[2]!.body)).toEqual({ routing_key: ROUTING_KEY, event_action: "resolve", dedup_key: trigger.dedup_key });

    const plain = await h.call("POST", "/tasks", { body: registration("pd-ok-plain", [{ type: "pagerduty", routing_key: ROUTING_KEY }]) });
    await h.tick();
    expect(pd.received).toHaveLength(3);
    expect(plain.json.notify[0]).toMatchObject({ state: "skipped" });
    // The routing key is a secret: never shown back.
    expect(plain.text).not.toContain(ROUTING_KEY);
  });

  it("without PAGERDUTY_EVENTS_URL the target goes to PagerDuty's endpoint for its region", async () => {
    const h = await harness();
    h.task("pd-eu", ["processing"]);
    const w = await h.call("POST", "/tasks", { body: registration("pd-eu", [{ type: "pagerduty", routing_key: ROUTING_KEY, region: "eu" }]) });
    expect(w.json.notify[0]!.url).toBe("https://events.eu.pagerduty.com");
    const us = await h.call("POST", "/tasks", { body: registration("pd-us", [{ type: "pagerduty", routing_key: ROUTING_KEY }]) });
    expect(us.json.notify[0]!.url).toBe("https://events.pagerduty.com");
  });
});

describe("EventBridge", () => {
  it("PutEvents is SigV4-signed for the bus's region, with Source apig-taskwatch, DetailType the webhook type and Detail the webhook body", async () => {
    const eb: Receiver = await useEventBridge();
    const h = await harness({ AWS_ENDPOINT_URL_EVENTBRIDGE: eb.url });
    h.task("eb-1", [{ status: "succeed", result: PARTIAL_200 }]);
    await h.call("POST", "/tasks", { body: registration("eb-1", [{ type: "eventbridge", event_bus_arn: BUS }], { labels: { env: "prod" } }) });
    await h.tick();
    expect(eb.received).toHaveLength(1);
    const hit = eb.received[0]!;
    expect(hit.headers["x-amz-target"]).toBe("AWSEvents.PutEvents");
    expect(hit.headers["content-type"]).toBe("application/x-amz-json-1.1");
    expect(await verifySigV4(hit, "events", "eu-central-1")).toBe(true);
    // A changed body no longer matches its signature: the check is real.
    expect(await verifySigV4({ ...hit, body: hit.body.replace("eb-1", "eb-2") }, "events", "eu-central-1")).toBe(false);
    const { Entries } = JSON.parse(hit.body);
    expect(Entries).toHaveLength(1);
    expect(Entries[0]).toMatchObject({ EventBusName: BUS, Source: "apig-taskwatch", DetailType: "task.succeeded" });
    const detail = JSON.parse(Entries[0].Detail);
    expect(detail).toMatchObject({ type: "task.succeeded", data: { task_id: "eb-1", outcome: "partial", labels: { env: "prod" } } });
    expect(detail.data.result.failure_count).toBe(200);
    expect(bytes(Entries[0].Detail)).toBeLessThanOrEqual(256 * 1024);
    const w = (await h.call("GET", "/tasks/eb-1")).json;
    expect(w.notify[0]).toMatchObject({ type: "eventbridge", url: BUS, state: "delivered" });
  });

  it("a bus not in EVENTBRIDGE_BUS_ARNS is a 400 naming the field, and nothing is registered", async () => {
    const h = await harness();
    const r = await h.call("POST", "/tasks", { body: registration("eb-no", [{ type: "eventbridge", event_bus_arn: OTHER_BUS }]) });
    expect(r.status).toBe(400);
    expect(r.json.error.issues).toEqual([{ path: "notify.0.event_bus_arn", message: expect.stringContaining("EVENTBRIDGE_BUS_ARNS") }]);
    expect((await h.call("GET", "/tasks/eb-no")).status).toBe(404);
  });

  it("an entry PutEvents refuses for good (AccessDeniedException) is dead at once, not retried for hours", async () => {
    const eb = await useEventBridge();
    const h = await harness({ NOTIFY_RETRY_S: "1", AWS_ENDPOINT_URL_EVENTBRIDGE: eb.url });
    eb.replies.push({ status: 200, body: JSON.stringify({ FailedEntryCount: 1, Entries: [{ ErrorCode: "AccessDeniedException", ErrorMessage: "not authorized to perform: events:PutEvents" }] }) });
    h.task("eb-deny", [{ status: "failed", result: FAILED }]);
    await h.call("POST", "/tasks", { body: registration("eb-deny", [{ type: "eventbridge", event_bus_arn: BUS }]) });
    await h.tick();
    expect(eb.received).toHaveLength(1);
    expect((await h.call("GET", "/tasks/eb-deny")).json.notify[0]).toMatchObject({ state: "dead", last_error: expect.stringContaining("AccessDeniedException") });
  });

  it("an entry PutEvents refuses (FailedEntryCount 1) is retried, not counted delivered", async () => {
    let now = Date.now();
    const eb = await useEventBridge();
    const h = await harness({ NOTIFY_RETRY_S: "1", AWS_ENDPOINT_URL_EVENTBRIDGE: eb.url }, () => new Date(now));
    eb.replies.push({ status: 200, body: JSON.stringify({ FailedEntryCount: 1, Entries: [{ ErrorCode: "ThrottlingException", ErrorMessage: "slow down" }] }) });
    h.task("eb-thr", [{ status: "failed", result: FAILED }]);
    await h.call("POST", "/tasks", { body: registration("eb-thr", [{ type: "eventbridge", event_bus_arn: BUS }]) });
    await h.tick();
    expect((await h.call("GET", "/tasks/eb-thr")).json.notify[0]).toMatchObject({ state: "pending", last_error: expect.stringContaining("ThrottlingException") });
    now += 2_000;
    await h.tick();
    expect(eb.received).toHaveLength(2);
    expect((await h.call("GET", "/tasks/eb-thr")).json.notify[0]).toMatchObject({ state: "delivered", attempts: 2 });
  });
});
