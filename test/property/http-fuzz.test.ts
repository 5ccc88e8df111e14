/**
 * Property: no request of any shape gets a 5xx, and every error answer has
 * the documented shape `{"error": {"code", "message", "issues"?}}`.
 * fast-check generates methods, paths, headers, query strings and bodies,
 * from noise to near-valid registrations (hostile label names, forged
 * cursors, unknown regions, bad targets), against the real router, store
 * (dynalite) and APIG simulator.
 */
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleHttp, type HttpRequest } from "../../lib/http/router";
import { type Harness, KEYS, startHarness } from "../support/harness";

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  for (const id of ["fz-a", "fz-b", "fz-c"]) h.task(id, ["processing", "succeed"]);
});
afterAll(async () => h?.close());

const tricky = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "prototype", "__defineGetter__", "", " ", "a".repeat(65), "ok", "k.v/x:y-z_1"];
const idArb = fc.oneof(fc.constantFrom("fz-a", "fz-b", "fz-c", "fz-d", "proj1", "inst1", "", "a".repeat(65), "../x", "%00", "ü"), fc.string({ maxLength: 70 }));
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** JSON text of an object from key/value-text pairs, so `__proto__` keys survive. */
const objText = (pairs: Array<[string, string]>) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;

const labelsText = fc.oneof(
  fc.array(fc.tuple(fc.oneof(fc.constantFrom(...tricky), fc.string({ maxLength: 70 })), fc.oneof(fc.string({ maxLength: 300 }).map((s) => JSON.stringify(s)), anyJson.map((j) => JSON.stringify(j)))), { maxLength: 22 }).map(objText),
  anyJson.map((j) => JSON.stringify(j)),
);
const targetText = fc.oneof(
  fc.record({ type: fc.constantFrom("webhook", "slack", "email", ""), url: fc.constantFrom("https://ci.example.com/h", "http://127.0.0.1:1/h", "https://169.254.169.254/", "ftp://x", "not a url"), secret: fc.constantFrom(SECRET, "whsec_short", "nope", "") }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.record({ type: fc.constant("slack"), webhook_url: fc.constantFrom("https://hooks.slack.com/services/T/B/X", "http://10.0.0.1/", "x") }).map((o) => JSON.stringify(o)),
  anyJson.map((j) => JSON.stringify(j)),
);
/** A registration with every field possibly missing, wrong-typed or hostile. */
const registrationText = fc
  .record(
    {
      project_id: fc.oneof(idArb.map((s) => JSON.stringify(s)), anyJson.map((j) => JSON.stringify(j))),
      instance_id: fc.oneof(idArb.map((s) => JSON.stringify(s)), anyJson.map((j) => JSON.stringify(j))),
      task_id: idArb.map((s) => JSON.stringify(s)),
      region: fc.constantFrom('"eu-de"', '"eu-nl"', '"ap-southeast-1"', '"EU-DE"', '""', "null", "1", '"__proto__"'),
      notify: fc.oneof(fc.array(targetText, { maxLength: 12 }).map((a) => `[${a.join(",")}]`), anyJson.map((j) => JSON.stringify(j))),
      labels: labelsText,
      timeout_s: fc.oneof(fc.integer().map(String), fc.constantFrom("60", "59", "3600", "1e309", "-0", '"60"', "1.5", "null")),
      extra: anyJson.map((j) => JSON.stringify(j)),
    },
    { requiredKeys: [] },
  )
  .map((r) => objText(Object.entries(r).map(([k, v]) => [k === "extra" ? "__proto__" : k, v] as [string, string])));

/** Registrations that mostly pass validation: new watches, repeats and conflicts over a small id pool. */
const nearValidText = fc
  .record({
    task_id: fc.constantFrom("fz-a", "fz-b", "fz-c", "fz-d", "fz-e"),
    project_id: fc.constantFrom("proj1", "proj1", "proj2"),
    region: fc.constantFrom("eu-de", "eu-de", "eu-de", "eu-nl", "ap-southeast-1"),
    labels: fc.array(fc.tuple(fc.constantFrom("constructor", "__proto__", "toString", "pipeline", "valueOf", "bad name"), fc.constantFrom("x", "y")), { maxLength: 3 }),
    notify: fc.constantFrom([], [{ type: "webhook", url: "https://ci.example.com/h", secret: SECRET }], [{ type: "slack", webhook_url: "https://hooks.slack.com/services/T/B/X" }]),
    timeout_s: fc.constantFrom(60, 3600, 86400, 59),
  })
  .map((r) =>
    objText([
      ["project_id", JSON.stringify(r.project_id)],
      ["instance_id", '"inst1"'],
      ["task_id", JSON.stringify(r.task_id)],
      ["region", JSON.stringify(r.region)],
      ["notify", JSON.stringify(r.notify)],
      ["labels", objText(r.labels.map(([k, v]) => [k, JSON.stringify(v)]))],
      ["timeout_s", String(r.timeout_s)],
    ]),
  );

const cursorArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.record({ pk: fc.string({ maxLength: 8 }), sk: fc.string({ maxLength: 8 }), created_key: fc.string({ maxLength: 8 }) }).map((o) => Buffer.from(JSON.stringify(o)).toString("base64url")),
  fc.record({ k: fc.string({ maxLength: 60 }), m: fc.string({ maxLength: 50 }) }).map((o) => Buffer.from(JSON.stringify(o)).toString("base64url")),
  anyJson.map((j) => Buffer.from(JSON.stringify(j) ?? "").toString("base64url")),
);

const registrationRequest: fc.Arbitrary<HttpRequest> = fc.record({
  method: fc.constant("POST"),
  path: fc.constant("/tasks"),
  headers: fc.constant({ authorization: `Bearer ${KEYS.acme}`, "content-type": "application/json" }),
  query: fc.constant({}),
  body: nearValidText.map((t) => Buffer.from(t)),
});

const anyRequest: fc.Arbitrary<HttpRequest> = fc.record({
  method: fc.oneof(fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "get", "post"), fc.string({ maxLength: 8 })),
  path: fc.oneof(
    fc.constantFrom("/tasks", "/tasks/", "/health", "/", "//tasks", "/tasks/fz-a", "/tasks/fz-b/", "/tasks/%E0%A4%A", "/tasks/a/b", "/tasks/__proto__", "/tasks/constructor", "/TASKS"),
    idArb.map((id) => `/tasks/${id}`),
    idArb.map((id) => `/tasks/${encodeURIComponent(id)}`),
    fc.string({ maxLength: 60 }),
  ),
  headers: fc.record(
    {
      authorization: fc.oneof(fc.constantFrom(`Bearer ${KEYS.acme}`, `Bearer ${KEYS.other}`, "Bearer", "Basic x", `bearer ${KEYS.acme}`, ""), fc.string({ maxLength: 40 })),
      "content-type": fc.oneof(fc.constantFrom("application/json", "application/json; charset=utf-8", "application/vnd.x+json", "text/plain", ""), fc.string({ maxLength: 30 })),
    },
    { requiredKeys: [] },
  ),
  query: fc.record(
    {
      status: fc.oneof(fc.constantFrom("processing", "succeed", "nope", "", "__proto__"), fc.string({ maxLength: 10 })),
      limit: fc.oneof(fc.constantFrom("1", "100", "101", "0", "-1", "1e3", "abc", ""), fc.integer().map(String)),
      cursor: cursorArb,
      wait: fc.constantFrom("0", "1", "-1", "abc"),
    },
    { requiredKeys: [] },
  ),
  body: fc.oneof(
    fc.constant(null),
    registrationText.map((t) => Buffer.from(t)),
    anyJson.map((j) => Buffer.from(JSON.stringify(j) ?? "")),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    fc.string({ maxLength: 100 }).map((s) => Buffer.from(s)),
  ),
});

const requestArb = fc.oneof({ arbitrary: anyRequest, weight: 4 }, { arbitrary: registrationRequest, weight: 1 });

/** The documented error shape and nothing else. */
function expectErrorShape(body: unknown) {
  expect(body).toEqual({
    error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
  });
  const e = (body as { error: Record<string, unknown> }).error;
  expect(Object.keys(e).every((k) => ["code", "message", "issues"].includes(k))).toBe(true);
  if ("issues" in e) {
    expect(Array.isArray(e.issues)).toBe(true);
    for (const i of e.issues as unknown[]) expect(i).toEqual({ path: expect.any(String), message: expect.any(String) });
  }
}

describe("HTTP API under generated input", () => {
  it(`answers ${RUNS} generated requests without a 5xx, every error in the documented shape`, async () => {
    let statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb, async (req) => {
        const res = await handleHttp(h.deps, req);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode, `${req.method} ${req.path}`).toBeLessThan(500);
        const body = JSON.parse(res.body) as unknown;
        if (res.statusCode >= 400) expectErrorShape(body);
      }),
      { numRuns: RUNS },
    );
    expect(h.logs.filter((l) => l.includes('"api_error"'))).toEqual([]);
    // The generator reaches past validation: registrations, reads and conflicts happen.
    for (const s of [200, 201, 400, 401, 404, 409]) expect(statuses.get(s) ?? 0, `answers with ${s}`).toBeGreaterThan(0);
    statuses = new Map();
  }, 120_000);
});
