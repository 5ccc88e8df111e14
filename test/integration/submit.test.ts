/**
 * POST /imports and POST /exports: the document goes to APIG's async-import
 * as multipart (checked by the simulator), the task is watched; a refusal
 * registers nothing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness";

const AK = "SIMAKEXAMPLE000000001";
const SK = "sim-secret-key-do-not-log";
const SPEC = readFileSync(join(import.meta.dirname, "..", "fixtures", "pets.yaml"), "utf8");
const where = { project_id: "proj1", instance_id: "inst1" };

let h: Harness;
beforeAll(async () => {
  // AK/SK, so every call to APIG is signed over its (multipart) body and the simulator checks it.
  // APIG_TIMEOUT_MS at its default (the harness's 2 s): a 3 MiB upload on a loaded machine takes longer,
  // and no test here is about the timeout.
  h = await startHarness({
    env: { OTC_AUTH_TOKEN: "", OTC_ACCESS_KEY: AK, OTC_SECRET_KEY: SK, APIG_TIMEOUT_MS: "10000" },
    sim: { auth: { accessKey: AK, secretKey: SK } },
  });
});
afterAll(async () => h?.close());

const watchCount = async () => (await h.call("GET", "/tasks?limit=100")).json.items.length;

describe("POST /imports", () => {
  it("sends the spec as the file part file_name with the given fields, signed, and answers 201 with the watch", async () => {
    const before = h.sim.uploads.length;
    const r = await h.call("POST", "/imports", { body: { ...where, spec: SPEC, file_name: "pets.yaml", is_create_group: true, api_mode: "override", labels: { ci: "1" } } });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ task_type: "import_api", status: "waiting", labels: { ci: "1" } });
    const upload = h.sim.uploads[before]!;
    expect(upload).toMatchObject({ fileName: "pets.yaml", content: SPEC, fields: { is_create_group: "true", api_mode: "override" } });
    const signed = h.sim.requests.filter((q) => q.path.endsWith("/openapi/async-import")).at(-1)!;
    expect(String(signed.headers.authorization)).toMatch(/^SDK-HMAC-SHA256 Access=SIMAKEXAMPLE000000001, SignedHeaders=.*content-type/);
    // The watch reads the result the simulator derived from the document: one entry per operation.
    await h.tick();
    await h.tick();
    const w = (await h.call("GET", `/tasks/${r.json.task_id}`)).json;
    expect(w).toMatchObject({ status: "succeed", outcome: "succeeded", result: { kind: "import", success_count: 3, failure_count: 0 } });
  });

  it("a refused import answers 422 apig_rejected with APIG's error, and registers nothing", async () => {
    const before = await watchCount();
    const noGroup = await h.call("POST", "/imports", { body: { ...where, spec: SPEC, is_create_group: false } });
    expect(noGroup.status).toBe(422);
    expect(noGroup.json.error.apig).toMatchObject({ error_code: "APIG.2001", error_msg: expect.stringContaining("group_id") });
    expect(await watchCount()).toBe(before);
  });

  it("a document that breaks an import rule answers 422 spec_rejected with the findings, and nothing reaches APIG", async () => {
    const before = await watchCount();
    const calls = h.sim.requests.length;
    const broken = SPEC.replace("  /pets/{id}:", "  /pets/pet-{id}:").replace("paths:", "consumes: [application/json]\npaths:");
    const r = await h.call("POST", "/imports", { body: { ...where, spec: broken, is_create_group: true } });
    expect(r.status).toBe(422);
    expect(r.json.error).toMatchObject({
      code: "spec_rejected",
      issues: [{ path: "/paths/~1pets~1pet-{id}", message: expect.stringMatching(/^15:3 partial-segment-template /) }],
      check: { ok: false, version: "2.0", apis: 3 },
    });
    expect(r.json.error.check!.findings.map((f: { rule: string }) => f.rule)).toEqual(["consumes-produces", "partial-segment-template"]);
    const junk = await h.call("POST", "/imports", { body: { ...where, spec: "not: an openapi document\n", is_create_group: true } });
    expect(junk.json.error.check!.findings[0]).toMatchObject({ rule: "unsupported-version" });
    expect(h.sim.requests.length).toBe(calls);
    expect(await watchCount()).toBe(before);
  });

  it("an OpenAPI 3.1 document is uploaded converted to 3.0.3; the watch keeps converted_from and the warnings", async () => {
    const spec = `openapi: 3.1.0
jsonSchemaDialect: https://json-schema.org/draft/2020-12/schema
info: {title: pets31, version: "1"}
paths:
  /pets:
    get:
      parameters: [{name: q, in: query, schema: {type: [string, "null"]}}]
      responses: {"200": {description: ok}}
`;
    const r = await h.call("POST", "/imports", { body: { ...where, spec, file_name: "pets31.yaml" } });
    expect(r.status, r.text.slice(0, 300)).toBe(201);
    const uploaded = h.sim.uploads.at(-1)!.content;
    expect(uploaded).toMatch(/^openapi: 3\.0\.3$/m);
    expect(uploaded).toContain("nullable: true");
    expect(uploaded).not.toContain("jsonSchemaDialect");
    expect(r.json.import_check).toMatchObject({ version: "3.0.3", converted_from: "3.1.0", apis: 1, warning_count: 2 });
    expect(r.json.import_check!.warnings.map((f: { rule: string }) => f.rule)).toEqual(["oas31-dropped", "missing-operation-id"]);
    const read = await h.call("GET", `/tasks/${r.json.task_id}`);
    expect(read.json.import_check!.converted_from).toBe("3.1.0");
  });

  it("POST /imports/check answers the findings and submits nothing", async () => {
    const calls = h.sim.requests.length;
    const r = await h.call("POST", "/imports/check", { body: { ...where, spec: SPEC.replace("title: pets", "title: my pets") } });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      ok: false,
      version: "2.0",
      converted_from: null,
      apis: 3,
      findings: [expect.objectContaining({ severity: "error", rule: "group-name", pointer: "/info/title", line: 3, column: 3 })],
    });
    const existing = await h.call("POST", "/imports/check", { body: { ...where, spec: SPEC, group_id: "g1" } });
    expect(existing.json).toMatchObject({ ok: true, findings: [] });
    expect(h.sim.requests.length).toBe(calls);
    expect((await h.call("POST", "/imports/check", { body: { ...where } })).status).toBe(400);
  });

  it("takes a document of several MiB (this route's limit is 5 MiB, not 64 KiB)", async () => {
    const padding = "x".repeat(3 * 1024 * 1024);
    const big = SPEC.replace('title: pets', `title: pets\n  description: "${padding}"`);
    const r = await h.call("POST", "/imports", { body: { ...where, spec: big, file_name: "big.yaml" } });
    expect(r.status, r.text.slice(0, 300)).toBe(201);
    expect(h.sim.uploads.at(-1)!.content.length).toBe(big.length);
  });

  it("refuses bad fields with 400 before calling APIG, and bodies over 5 MiB with 413", async () => {
    const calls = h.sim.requests.length;
    const bad = await h.call("POST", "/imports", { body: { ...where, spec: "", extend_mode: "replace", file_name: "../x" } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.issues.map((i) => i.path).sort()).toEqual(["extend_mode", "file_name", "spec"]);
    const big = JSON.stringify({ ...where, spec: "x".repeat(5 * 1024 * 1024 + 1) });
    const tooBig = await h.call("POST", "/imports", { raw: big, headers: { "content-type": "application/json" } });
    expect(tooBig.status).toBe(413);
    // The handler's own answer, not the local adapter's cut-off.
    expect(tooBig.json.error.message).toBe(`body over ${5 * 1024 * 1024} bytes`);
    expect(h.sim.requests.length).toBe(calls);
    // Other routes keep the 64 KiB limit.
    const tooBigTask = JSON.stringify({ ...where, task_id: "t", labels: { a: "x".repeat(70 * 1024) } });
    expect((await h.call("POST", "/tasks", { raw: tooBigTask, headers: { "content-type": "application/json" } })).status).toBe(413);
  });

  it("unreachable APIG is retried, then answers 502 apig_unavailable and registers nothing", async () => {
    const before = await watchCount();
    const down = await startHarness({ env: { APIG_ENDPOINT: "http://127.0.0.1:9" } });
    try {
      const r = await down.call("POST", "/imports", { body: { ...where, spec: SPEC } });
      expect(r.status).toBe(502);
      expect(r.json.error.code).toBe("apig_unavailable");
      expect((await down.call("GET", "/tasks")).json.items).toEqual([]);
    } finally {
      await down.close();
    }
    expect(await watchCount()).toBe(before);
  });
});

describe("POST /exports", () => {
  it("submits the export as JSON and the finished watch carries the exported document", async () => {
    await h.call("POST", "/imports", { body: { ...where, spec: SPEC, file_name: "pets.yaml", is_create_group: false, group_id: "grp-exp" } });
    const r = await h.call("POST", "/exports", { body: { ...where, group_id: "grp-exp", env_id: "DEFAULT_ENVIRONMENT_RELEASE_ID", define: "all", oas_version: "3.0" } });
    expect(r.status).toBe(201);
    expect(r.json.task_type).toBe("export_api");
    await h.tick();
    await h.tick();
    const w = (await h.call("GET", `/tasks/${r.json.task_id}`)).json;
    expect(w).toMatchObject({ status: "succeed", result: { kind: "export", file_type: ".json" } });
    const result = w.result as { content: string };
    expect(JSON.parse(result.content)).toMatchObject({ openapi: "3.0.0", paths: { "/pets": {}, "/pets/{id}": {} } });
  });

  it("a missing env_id is a 400 here; APIG refusing the credentials is a 422 with its code, nothing registered", async () => {
    expect((await h.call("POST", "/exports", { body: { ...where, group_id: "g" } })).status).toBe(400);
    const refused = await startHarness({ env: { OTC_AUTH_TOKEN: "not-a-token" } });
    try {
      const r = await refused.call("POST", "/exports", { body: { ...where, group_id: "g", env_id: "e" } });
      expect(r.status).toBe(422);
      expect(r.json.error.apig).toEqual({ http_status: 401, error_code: "APIG.1002", error_msg: "Incorrect token or token resolution failed" });
      expect((await refused.call("GET", "/tasks")).json.items).toEqual([]);
    } finally {
      await refused.close();
    }
  });
});
