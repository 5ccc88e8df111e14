/**
 * Hostile input: label names that mean something to JavaScript are stored
 * exactly (or refused), forged and cross-tenant cursors are 400s, and a
 * re-registration that differs names every differing field in a 409.
 */
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Harness, KEYS, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());
afterEach(() => {
  expect(h.logs.filter((l) => l.includes('"api_error"'))).toEqual([]);
});

/** JSON text with the given label names, written by hand: an object literal would swallow `__proto__`. */
function bodyWithLabels(taskId: string, labels: Array<[string, string]>, notify: unknown[] = []): string {
  const base = JSON.stringify(registration(taskId, notify));
  return `${base.slice(0, -1)},"labels":{${labels.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}}`;
}

describe("labels", () => {
  it("stores constructor, __proto__, toString and friends exactly, in the view, the list and the webhook", async () => {
    const hook = await useReceiver();
    const labels: Array<[string, string]> = [
      ["constructor", "c"],
      ["__proto__", "p"],
      ["toString", "t"],
      ["hasOwnProperty", "h"],
      ["valueOf", "v"],
    ];
    h.task("hi-labels", [{ status: "succeed", result: "{}" }]);
    const raw = bodyWithLabels("hi-labels", labels, [{ type: "webhook", url: `${hook.url}/h`, secret: SECRET }]);
    const reg = await h.call("POST", "/tasks", { raw, headers: { "content-type": "application/json" } });
    expect(reg.status).toBe(201);
    const expected = Object.fromEntries(labels);
    const asPairs = (text: string) => {
      const obj = (JSON.parse(text) as { labels?: object; data?: { labels: object } });
      const l = obj.labels ?? obj.data!.labels;
      return Object.entries(l).sort();
    };
    expect(asPairs(reg.text)).toEqual(Object.entries(expected).sort());
    const got = await h.call("GET", "/tasks/hi-labels");
    expect(asPairs(got.text)).toEqual(Object.entries(expected).sort());
    const listed = await h.call("GET", "/tasks?limit=100");
    const item = (JSON.parse(listed.text) as { items: Array<{ task_id: string; labels: object }> }).items.find((i) => i.task_id === "hi-labels")!;
    expect(Object.entries(item.labels).sort()).toEqual(Object.entries(expected).sort());
    await h.tick();
    const [wh] = await hook.waitFor(1);
    expect(asPairs(wh!.body)).toEqual(Object.entries(expected).sort());
    // The same body again is the same registration.
    expect((await h.call("POST", "/tasks", { raw, headers: { "content-type": "application/json" } })).status).toBe(200);
  });

  it("refuses a bad label name or value with 400 naming it", async () => {
    for (const [k, v] of [["bad key!", "v"], ["", "v"], ["ok", "x".repeat(300)]] as const) {
      const r = await h.call("POST", "/tasks", { raw: bodyWithLabels("hi-bad", [[k, v]]), headers: { "content-type": "application/json" } });
      expect(r.status).toBe(400);
      expect(r.json.error.issues[0]!.path).toBe(`labels.${k}`);
    }
    const many = Array.from({ length: 21 }, (_, i) => [`l${i}`, "v"] as [string, string]);
    expect((await h.call("POST", "/tasks", { raw: bodyWithLabels("hi-bad", many), headers: { "content-type": "application/json" } })).status).toBe(400);
  });
});

describe("cursors", () => {
  it("pages with a cursor we issued, and refuses forged, altered and cross-tenant ones with 400", async () => {
    for (let i = 0; i < 3; i++) {
      h.task(`hi-page-${i}`, ["processing"]);
      await h.call("POST", "/tasks", { body: registration(`hi-page-${i}`) });
    }
    const first = await h.call("GET", "/tasks?limit=1");
    const cursor = first.json.next_cursor!;
    expect((await h.call("GET", `/tasks?limit=1&cursor=${cursor}`)).status).toBe(200);

    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const inner = JSON.parse(Buffer.from(cursor, "base64url").toString()) as { k: string; m: string };
    const forged = [
      b64({ pk: "", sk: "", created_key: "" }),
      b64({ k: JSON.stringify({ pk: "", sk: "", created_key: "" }), m: inner.m }),
      b64({ k: JSON.stringify({ pk: "T#other", sk: "W#x", created_key: "x" }), m: inner.m }),
      b64({ k: inner.k, m: "A".repeat(inner.m.length) }),
      b64({ k: inner.k }),
      "not-base64!!",
      b64("string"),
      b64(null),
    ];
    for (const c of forged) {
      const r = await h.call("GET", `/tasks?cursor=${encodeURIComponent(c)}`);
      expect(r.status, c).toBe(400);
      expect(r.json.error).toMatchObject({ code: "validation_failed", issues: [{ path: "cursor" }] });
    }
    // Another tenant's genuine cursor is no cursor of ours.
    expect((await h.call("GET", `/tasks?cursor=${cursor}`, { key: KEYS.other })).status).toBe(400);
  });
});

describe("re-registration", () => {
  it("same body: 200 with the existing watch; any differing field: 409 naming each one", async () => {
    const hook = await useReceiver();
    const target = { type: "webhook", url: `${hook.url}/h`, secret: SECRET };
    const body = registration("hi-rereg", [target], { labels: { a: "1" }, timeout_s: 3600, region: "eu-de" });
    h.task("hi-rereg", ["processing"]);
    expect((await h.call("POST", "/tasks", { body })).status).toBe(201);
    expect((await h.call("POST", "/tasks", { body })).status).toBe(200);
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ project_id: "proj2" }, ["project_id"]],
      [{ instance_id: "inst2" }, ["instance_id"]],
      [{ notify: [{ ...target, url: `${hook.url}/other` }] }, ["notify"]],
      [{ notify: [{ type: "webhook", url: target.url, secret: `whsec_${randomBytes(32).toString("base64")}` }] }, ["notify"]],
      [{ notify: [] }, ["notify"]],
      [{ labels: { a: "2" } }, ["labels"]],
      [{ labels: {} }, ["labels"]],
      [{ timeout_s: 7200 }, ["timeout_s"]],
      [{ project_id: "proj2", labels: { b: "1" }, timeout_s: 60 }, ["project_id", "labels", "timeout_s"]],
    ];
    for (const [patch, fields] of cases) {
      const r = await h.call("POST", "/tasks", { body: { ...body, ...patch } });
      expect(r.status, JSON.stringify(patch)).toBe(409);
      expect(r.json.error.code).toBe("conflict");
      expect(r.json.error.issues.map((i) => i.path)).toEqual(fields);
      expect(r.text).not.toContain(SECRET);
    }
  });

  it("a different region is a conflict too", async () => {
    const { startApigSimulator } = await import("../../infra/dev/apig-simulator");
    const nl = await startApigSimulator();
    const g = await startHarness({ env: { APIG_ENDPOINTS: `eu-nl=${nl.url}` } });
    try {
      g.task("hi-region", ["processing"]);
      expect((await g.call("POST", "/tasks", { body: registration("hi-region") })).status).toBe(201);
      const r = await g.call("POST", "/tasks", { body: registration("hi-region", [], { region: "eu-nl" }) });
      expect(r.status).toBe(409);
      expect(r.json.error.issues.map((i) => i.path)).toEqual(["region"]);
    } finally {
      await g.close();
      await nl.close();
    }
  });
});
