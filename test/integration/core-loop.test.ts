import { randomBytes } from "node:crypto";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskQuery } from "../../lib/app/ports";
import { type Harness, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const IMPORT_RESULT = JSON.stringify({
  success: [{ id: "ee93", action: "create", method: "GET", path: "/test1" }],
  failure: [{ method: "POST", path: "/bad", error_code: "APIG.3301", error_msg: "duplicate" }],
  swagger: { id: "sw1", result: "Success" },
  group_id: "g1",
});

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** A webhook and a Slack receiver of the running test's own, and targets naming them. */
async function receivers() {
  const hook = await useReceiver();
  const slack = await useReceiver();
  const webhook = { type: "webhook", url: `${hook.url}/hooks/apig`, secret: SECRET };
  const slackTarget = { type: "slack", webhook_url: `${slack.url}/services/T/B/X` };
  return { hook, slack, webhook, slackTarget, targets: [webhook, slackTarget] };
}

describe("core loop: register -> ticks -> transitions -> notifications", () => {
  it("follows a task to its end and notifies both targets once", async () => {
    const { hook, slack, targets } = await receivers();
    h.task("task-happy", ["waiting", "processing", { status: "succeed", result: IMPORT_RESULT }]);
    const reg = await h.call("POST", "/tasks", { body: registration("task-happy", targets, { labels: { pipeline: "deploy-42" } }) });
    expect(reg.status).toBe(201);
    // The registration made the first query itself.
    expect(reg.json.status).toBe("waiting");
    expect(reg.json.notify.map((t: { url: string }) => t.url)).toEqual([hook.url, slack.url]);
    expect(reg.text).not.toContain(SECRET);
    expect(reg.text).not.toContain("/services/T/B/X");

    await h.tick();
    expect((await h.call("GET", "/tasks/task-happy")).json.status).toBe("processing");
    await h.tick();

    const got = await h.call("GET", "/tasks/task-happy");
    expect(got.json).toMatchObject({
      status: "succeed",
      task_type: "import_api",
      result: { kind: "import", success_count: 1, failure_count: 1, group_id: "g1" },
      last_error: null,
    });
    expect(got.json.history.map((x: { status: string }) => x.status)).toEqual(["registered", "waiting", "processing", "succeed"]);
    expect(got.json.notify.map((t: { state: string; attempts: number }) => [t.state, t.attempts])).toEqual([
      ["delivered", 1],
      ["delivered", 1],
    ]);

    const [wh] = await hook.waitFor(1);
    // An independent verifier: the Standard Webhooks reference library.
    const payload = new Webhook(SECRET.slice("whsec_".length)).verify(wh!.body, {
      "webhook-id": String(wh!.headers["webhook-id"]),
      "webhook-timestamp": String(wh!.headers["webhook-timestamp"]),
      "webhook-signature": String(wh!.headers["webhook-signature"]),
    }) as { type: string; data: { task_id: string; status: string; labels: Record<string, string> } };
    expect(payload.type).toBe("task.succeeded");
    expect(payload.data).toMatchObject({ task_id: "task-happy", status: "succeed", labels: { pipeline: "deploy-42" } });
    expect(wh!.body).not.toContain(SECRET);

    const [sl] = await slack.waitFor(1);
    const msg = JSON.parse(sl!.body) as { text: string; blocks: unknown[] };
    expect(msg.text).toContain("task-happy");
    expect(msg.blocks.length).toBeGreaterThan(0);
    expect(JSON.stringify(msg.blocks)).toContain("APIG.3301");

    // Nothing more is owed: further ticks send nothing and the watch leaves the due index.
    await h.tick();
    await h.tick();
    expect(hook.received.length).toBe(1);
    expect(slack.received.length).toBe(1);
  });

  it("reports a failed task with its APIG error", async () => {
    const { hook, webhook } = await receivers();
    h.task("task-fail", [{ status: "failed", result: '{"error_code":"APIG.3201","error_msg":"The API group name already exists"}' }]);
    const reg = await h.call("POST", "/tasks", { body: registration("task-fail", [webhook]) });
    // Already done at registration: stored finished, its notification owed to the poller.
    expect(reg.status).toBe(201);
    expect(reg.json).toMatchObject({ status: "failed", outcome: "failed", result: { kind: "failure", error_code: "APIG.3201" } });
    expect(reg.json.notify).toMatchObject([{ state: "pending", attempts: 0 }]);
    expect(hook.received).toEqual([]);
    await h.tick();
    const [wh] = await hook.waitFor(1);
    expect(JSON.parse(wh!.body)).toMatchObject({ type: "task.failed", data: { result: { error_code: "APIG.3201" } } });
  });

  it("two overlapping ticks record one transition and send one notification per target", async () => {
    const { hook, slack, targets } = await receivers();
    h.task("task-race", ["processing", { status: "succeed", result: '{"FileName":"f","FileType":".json","Comment":"{}"}' }], "export_api");
    expect((await h.call("POST", "/tasks", { body: registration("task-race", targets) })).json.status).toBe("processing");

    // Two "Lambda containers" whose APIG queries are held until both have
    // asked, so both read the same version and both try to write.
    let arrived = 0;
    let release!: () => void;
    const both = new Promise<void>((r) => (release = r));
    const gated = (inner: TaskQuery): TaskQuery => ({
      async queryTask(ref) {
        const obs = await inner.queryTask(ref);
        if (ref.taskId !== "task-race") return obs;
        if (++arrived === 2) release();
        await both;
        return obs;
      },
    });
    const a = h.twin();
    const b = h.twin();
    a.apig = gated(a.apig);
    b.apig = gated(b.apig);
    const [ra, rb] = await Promise.all([h.tick(a), h.tick(b)]);
    expect(ra.transitions + rb.transitions).toBe(1);
    expect(ra.conflicts + rb.conflicts).toBe(1);

    await hook.waitFor(1);
    await slack.waitFor(1);
    // A tick awaits every send it starts, and a receiver records a request
    // before it answers: whatever this tick sent is counted when it returns.
    await h.tick();
    expect(hook.received.length).toBe(1);
    expect(slack.received.length).toBe(1);
    const w = (await h.call("GET", "/tasks/task-race")).json;
    expect(w.history.filter((x: { status: string }) => x.status === "succeed")).toHaveLength(1);
  });

  it("a poll that finds nothing new writes nothing", async () => {
    h.task("task-slow", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("task-slow") });
    const writes = () => (h.commands.PutItemCommand ?? 0) + (h.commands.UpdateItemCommand ?? 0) + (h.commands.DeleteItemCommand ?? 0);
    const before = writes();
    const polls = h.sim.requests.length;
    const updated = (await h.call("GET", "/tasks/task-slow")).json.updated_at;
    for (let i = 0; i < 5; i++) await h.tick();
    expect(h.sim.requests.length - polls).toBeGreaterThanOrEqual(5);
    // The watch is not written; the only writes are each tick's sweep record of its shard (what it served).
    expect((await h.call("GET", "/tasks/task-slow")).json.updated_at).toBe(updated);
    expect(writes() - before).toBeLessThanOrEqual(5 * h.deps.store.dueShards().length);
  });

  it("404 APIG.3093 past the grace period ends not_found and notifies", async () => {
    const g = await startHarness({ env: { NOT_FOUND_GRACE_S: "0" } });
    const r = await useReceiver();
    try {
      const reg = await g.call("POST", "/tasks", { body: registration("task-ghost", [{ type: "slack", webhook_url: `${r.url}/s` }]) });
      expect(reg.json.status).toBe("registered");
      expect(reg.json.last_error).toMatchObject({ code: "APIG.3093", http_status: 404 });
      await g.tick();
      expect((await g.call("GET", "/tasks/task-ghost")).json.status).toBe("not_found");
      const [m] = await r.waitFor(1);
      expect(JSON.parse(m!.body).text).toContain("task-ghost");
    } finally {
      await g.close();
    }
  });

  it("the deadline ends a task that never finishes as timed_out", async () => {
    let now = Date.now();
    const g = await startHarness({ overrides: { clock: () => new Date(now) } });
    try {
      g.task("task-forever", ["processing"]);
      await g.call("POST", "/tasks", { body: registration("task-forever", [], { timeout_s: 60 }) });
      await g.tick();
      expect((await g.call("GET", "/tasks/task-forever")).json.status).toBe("processing");
      now += 61_000;
      await g.tick();
      expect((await g.call("GET", "/tasks/task-forever")).json).toMatchObject({ status: "timed_out" });
    } finally {
      await g.close();
    }
  });

  it("cancel stops polling and sends nothing", async () => {
    const { slack, slackTarget } = await receivers();
    h.task("task-cancel", ["processing", { status: "succeed", result: IMPORT_RESULT }]);
    await h.call("POST", "/tasks", { body: registration("task-cancel", [slackTarget]) });
    const del = await h.call("DELETE", "/tasks/task-cancel");
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ status: "cancelled", notify: [{ state: "skipped" }] });
    expect((await h.call("DELETE", "/tasks/task-cancel")).status).toBe(200);
    const queried = h.sim.requests.filter((r) => r.path.endsWith("/task-cancel")).length;
    await h.tick();
    expect(h.sim.requests.filter((r) => r.path.endsWith("/task-cancel")).length).toBe(queried);
    expect(slack.received.length).toBe(0);
    h.task("task-done", [{ status: "succeed", result: "{}" }]);
    await h.call("POST", "/tasks", { body: registration("task-done") });
    expect((await h.call("DELETE", "/tasks/task-done")).status).toBe(409);
  });

  it("a malformed stored item is logged and skipped; the other watches are still polled", async () => {
    const g = await startHarness();
    try {
      await g.db.send(
        new PutCommand({ TableName: g.tableName, Item: { pk: "T#acme", sk: "W#broken", due_shard: "S#0", due_at: 0, status: "bogus", version: 1 } }),
      );
      g.task("ok-next-to-broken", ["processing", { status: "succeed", result: "{}" }]);
      await g.call("POST", "/tasks", { body: registration("ok-next-to-broken") });
      const s = await g.tick();
      expect(s).toMatchObject({ errors: 1, transitions: 1 });
      const bad = g.logs.map((l) => JSON.parse(l)).filter((l) => l.event === "watch_malformed");
      expect(bad).toEqual([expect.objectContaining({ level: "ERROR", message: "watch_malformed", key: "T#acme/W#broken" })]);
    } finally {
      await g.close();
    }
  });
});
