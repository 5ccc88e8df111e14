/**
 * The poller invocation against dynalite and the APIG simulator on loopback:
 * a registration made while an invocation runs is noticed within seconds,
 * and what a watch's life costs in DynamoDB write units.
 */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { writeUnits } from "../../infra/dev/capacity-meter";
import { createPollerState, stopPollLoop } from "../../lib/app/poll-loop";
import { runPollerInvocation } from "../../lib/app/poller-invocation";
import { pollerTiming } from "../../lib/app/timing";
import { type Harness, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const DONE = JSON.stringify({ success: [{ id: "a1", method: "GET", path: "/pets", action: "create" }], failure: [], group_id: "g" });

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

describe("poller invocation on the deployed 60 s schedule", () => {
  it("notices a task registered while it runs and notifies within 10 s, reading the due index in full only once", async () => {
    const h = await startHarness();
    open.push(h);
    const r = await useReceiver();
    // A task already running keeps the invocation in its loop (with nothing due it would end at once).
    h.task("running", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("running") });
    const state = createPollerState();
    const timing = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 2_000 });
    // Told when the invocation has read every shard's due set in full, so the
    // task below is registered after that read and can only come in by a pickup.
    let readAll!: () => void;
    const fullyRead = new Promise<void>((r) => (readAll = r));
    let reads = 0;
    const store = new Proxy(h.deps.store, {
      get(target, prop) {
        if (prop === "dueKeys") {
          return async (...args: Parameters<typeof target.dueKeys>) => {
            const keys = await target.dueKeys(...args);
            if (++reads === target.dueShards().length) readAll();
            return keys;
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const invocation = runPollerInvocation({ ...h.deps, store }, state, {
      event: { source: "aws.events" },
      remainingMs: timing.lambdaTimeoutS * 1000,
      settings: { concurrency: 8, apigMaxRps: 200, loopMs: timing.loopMs, reserveMs: timing.reserveMs },
    });
    await fullyRead;

    // Registered after the invocation's first read; APIG says processing now, succeed 2 s later.
    const endsAt = Date.now() + 2_000;
    h.task("late", [{ status: "processing", until: endsAt }, { status: "succeed", result: DONE }]);
    const registeredAt = Date.now();
    const reg = await h.call("POST", "/tasks", { body: registration("late", [{ type: "webhook", url: `${r.url}/h`, secret: SECRET }]) });
    expect(reg.json.status).toBe("processing");
    const [hit] = await r.waitFor(1, 15_000);
    stopPollLoop(state);
    const summary = await invocation;

    expect(hit!.at - registeredAt).toBeLessThan(10_000);
    expect(JSON.parse(hit!.body)).toMatchObject({ type: "task.succeeded", data: { task_id: "late", outcome: "succeeded" } });
    // Every shard read in full once; after that only pickups of what was new.
    expect(summary.fullReads).toBe(h.deps.store.dueShards().length);
    expect(summary.pickups).toBeGreaterThan(0);
    expect(summary.transitions).toBe(1);
  }, 30_000);
});

describe("what a watch's life costs in DynamoDB", () => {
  it("register -> processing -> succeed with one webhook: at most 11 write units, and none for polls that change nothing", async () => {
    const h = await startHarness();
    open.push(h);
    const r = await useReceiver();
    h.task("life", ["processing", "processing", "processing", { status: "succeed", result: DONE }]);
    const before = writeUnits(h.capacity);
    await h.call("POST", "/tasks", { body: registration("life", [{ type: "webhook", url: `${r.url}/h`, secret: SECRET }], { labels: { pipeline: "deploy-42" } }) });
    const afterRegistration = writeUnits(h.capacity);
    // Two polls that find it still processing: no write at all.
    await h.tick();
    await h.tick();
    expect(writeUnits(h.capacity)).toBe(afterRegistration);
    await h.tick(); // succeed: the terminal write, the delivery, the write recording it
    await r.waitFor(1);
    const life = writeUnits(h.capacity) - before;
    expect((await h.call("GET", "/tasks/life")).json).toMatchObject({ status: "succeed", notify: [{ state: "delivered" }] });
    expect(life).toBeLessThanOrEqual(11);
    // The listing index is keys-only and written once (creation); the due index on entry and exit,
    // and when a write changes what it projects (here the terminal status).
    expect(h.capacity.indexWrite).toEqual({ by_created: 1, due: 3 });
  });
});
