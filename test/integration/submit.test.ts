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
    const r = await h.call("POST", "/imports", { body: { ...where, spec: "not: an openapi document\n", is_create_group: true } });
    expect(r.status).toBe(422);
    expect(r.json.error).toMatchObject({ code: "apig_rejected", apig: { http_status: 400, error_code: "APIG.2012" } });
    const noGroup = await h.call("POST", "/imports", { body: { ...where, spec: SPEC, is_create_group: false } });
    expect(noGroup.status).toBe(422);
    expect(noGroup.json.error.apig).toMatchObject({ error_code: "APIG.2001", error_msg: expect.stringContaining("group_id") });
    expect(await watchCount()).toBe(before);
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
