import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Harness, KEYS, registration, startHarness } from "../support/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  h.task("t-known", ["processing"]);
});
afterAll(async () => h?.close());
// Whatever a test sends, the API answers it without an unexpected error.
afterEach(() => {
  expect(h.logs.filter((l) => l.includes('"api_error"'))).toEqual([]);
});

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;

describe("HTTP API", () => {
  it("health needs no key", async () => {
    await h.tick();
    const r = await h.call("GET", "/health", { key: null });
    expect(r).toMatchObject({ status: 200, json: { status: "ok", checks: { table: { status: "ok" }, poller: { status: "ok" } } } });
  });

  it("refuses missing, malformed and unknown keys with 401", async () => {
    const variants: Array<Record<string, string>> = [{}, { authorization: "Basic abc" }, { authorization: "Bearer" }, { authorization: "Bearer nope" }];
    for (const headers of variants) {
      const r = await h.call("GET", "/tasks", { key: null, headers });
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe("unauthorized");
    }
  });

  it("registers (201), re-registers (200), conflicts on another project (409)", async () => {
    h.task("t-reg", ["processing"]);
    const first = await h.call("POST", "/tasks", { body: registration("t-reg") });
    expect(first.status).toBe(201);
    const again = await h.call("POST", "/tasks", { body: registration("t-reg") });
    expect(again.status).toBe(200);
    expect(again.json.created_at).toBe(first.json.created_at);
    const other = await h.call("POST", "/tasks", { body: { ...registration("t-reg"), project_id: "proj2" } });
    expect(other.status).toBe(409);
    expect(other.json.error.code).toBe("conflict");
  });

  it("keeps tenants apart: another tenant's watch is a 404, and it may register the same task id", async () => {
    await h.call("POST", "/tasks", { body: registration("t-known") });
    expect((await h.call("GET", "/tasks/t-known", { key: KEYS.other })).status).toBe(404);
    expect((await h.call("DELETE", "/tasks/t-known", { key: KEYS.other })).status).toBe(404);
    expect((await h.call("GET", "/tasks", { key: KEYS.other })).json.items).toEqual([]);
    expect((await h.call("POST", "/tasks", { key: KEYS.other, body: registration("t-known") })).status).toBe(201);
    expect((await h.call("GET", "/tasks/t-known")).json.status).toBe("processing");
  });

  it("lists newest first with an opaque cursor, filters by status", async () => {
    h.task("l-proc", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("l-proc") });
    for (const id of ["l-1", "l-2", "l-3", "l-4", "l-5"]) {
      await h.call("POST", "/tasks", { body: registration(id) });
      await new Promise((r) => setTimeout(r, 5));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; json: { items: Array<{ task_id: string }>; next_cursor: string | null } } = await h.call(
        "GET",
        `/tasks?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(r.status).toBe(200);
      expect(r.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...r.json.items.map((i) => i.task_id));
      cursor = r.json.next_cursor;
    } while (cursor);
    expect(seen.slice(0, 5)).toEqual(["l-5", "l-4", "l-3", "l-2", "l-1"]);
    expect(seen).toContain("l-proc");
    const processing = await h.call("GET", "/tasks?status=processing&limit=100");
    expect(processing.json.items.map((i) => i.task_id)).toContain("l-proc");
    expect(new Set(processing.json.items.map((i) => i.status))).toEqual(new Set(["processing"]));
    const bad = await h.call("GET", "/tasks?status=bogus&limit=1000&cursor=abc");
    expect(bad.status).toBe(400);
    expect(bad.json.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(["limit", "status"]);
    expect((await h.call("GET", "/tasks?cursor=abc")).status).toBe(400);
    // A cursor from one tenant is refused for another.
    const page = await h.call("GET", "/tasks?limit=1");
    const foreign = await h.call("GET", `/tasks?cursor=${encodeURIComponent(page.json.next_cursor ?? "")}`, { key: KEYS.other });
    expect(foreign.status).toBe(400);
  });

  it("names each bad field", async () => {
    const r = await h.call("POST", "/tasks", {
      body: {
        project_id: "",
        instance_id: 5,
        task_id: "../../etc",
        region: "Mars",
        notify: [
          { type: "webhook", url: "ftp://x", secret: "nope" },
          { type: "pager" },
        ],
        labels: { "bad key!": "v" },
        timeout_s: 1,
        extra: true,
      },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("validation_failed");
    const paths = r.json.error.issues.map((i: { path: string }) => i.path);
    for (const p of ["project_id", "instance_id", "task_id", "region", "notify.1.type", "timeout_s", "extra"]) expect(paths).toContain(p);
    const r2 = await h.call("POST", "/tasks", {
      body: registration("t-targets", [
        { type: "webhook", url: "ftp://x", secret: "nope" },
        { type: "webhook", url: "https://ok.example.com/h", secret: SECRET },
      ]),
    });
    expect(r2.status).toBe(400);
    expect(r2.json.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(["notify.0.secret", "notify.0.url"]);
  });

  it("never shows a webhook secret or a full target URL", async () => {
    const r = await h.call("POST", "/tasks", {
      body: registration("t-secret", [
        { type: "webhook", url: "https://ci.example.com/hooks/apig?token=abc", secret: SECRET },
        { type: "slack", webhook_url: "https://hooks.slack.com/services/T000/B000/XXXX" },
      ]),
    });
    expect(r.status).toBe(201);
    const all = r.text + (await h.call("GET", "/tasks/t-secret")).text + (await h.call("GET", "/tasks")).text;
    for (const s of [SECRET, "token=abc", "/hooks/apig", "T000/B000"]) expect(all).not.toContain(s);
    expect(r.json.notify.map((t: { url: string }) => t.url)).toEqual(["https://ci.example.com", "https://hooks.slack.com"]);
  });

  const hostile: Array<[string, string | Buffer, Record<string, string>?]> = [
    ["not json", "hello"],
    ["empty", ""],
    ["truncated json", '{"task_id": '],
    ["json null", "null"],
    ["json array", "[1,2,3]"],
    ["json string", '"task"'],
    ["json number", "42"],
    ["deep nesting", "[".repeat(20_000) + "]".repeat(20_000)],
    ["deep object", '{"a":'.repeat(5000) + "1" + "}".repeat(5000)],
    ["proto pollution", '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"project_id":"p","instance_id":"i","task_id":"t"}'],
    ["invalid utf-8", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ["nul bytes", '{"project_id":"p\\u0000","instance_id":"i","task_id":"t\\u0000"}'],
    ["huge number", '{"project_id":"p","instance_id":"i","task_id":"t","timeout_s":1e400}'],
    ["notify not array", '{"project_id":"p","instance_id":"i","task_id":"t","notify":{"type":"slack"}}'],
    ["labels array", '{"project_id":"p","instance_id":"i","task_id":"t","labels":["a"]}'],
    ["label value object", '{"project_id":"p","instance_id":"i","task_id":"t","labels":{"a":{"b":1}}}'],
    ["xml", "<task/>", { "content-type": "application/xml" }],
    ["form", "task_id=t", { "content-type": "application/x-www-form-urlencoded" }],
  ];
  it.each(hostile)("hostile body (%s) gets a 4xx, never a 500", async (_name, raw, headers) => {
    const r = await h.call("POST", "/tasks", { raw, headers: { "content-type": "application/json", ...headers } });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.json?.error?.code).toEqual(expect.any(String));
    expect(r.text).not.toMatch(/at .*\.ts|Error:|stack/);
  });

  it("refuses bodies over 64 KiB with 413 and other media types with 415", async () => {
    const big = JSON.stringify({ ...registration("t-big"), labels: { a: "x".repeat(70 * 1024) } });
    expect((await h.call("POST", "/tasks", { raw: big, headers: { "content-type": "application/json" } })).status).toBe(413);
    const huge = Buffer.alloc(3 * 1024 * 1024, 0x61);
    expect((await h.call("POST", "/tasks", { raw: huge, headers: { "content-type": "application/json" } })).status).toBe(413);
    expect((await h.call("POST", "/tasks", { raw: "{}", headers: { "content-type": "text/plain" } })).status).toBe(415);
  });

  it("answers unknown routes and methods with 404 / 405", async () => {
    expect((await h.call("GET", "/nope")).status).toBe(404);
    expect((await h.call("PUT", "/tasks/t-known")).status).toBe(405);
    expect((await h.call("GET", "/tasks/%E0%A4%A")).status).toBe(404);
    expect((await h.call("GET", "/tasks/" + "x".repeat(300))).status).toBe(404);
  });

});
