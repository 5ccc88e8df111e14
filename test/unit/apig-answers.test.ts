import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classify, statusBodySchema, statusFields } from "../../lib/otc/apig-client";
import { MAX_LISTED, MAX_TEXT_CHARS, parseTaskResult } from "../../lib/domain/task-result";
import { DOC_ERROR_EXAMPLES, DOC_STATUS_EXAMPLES } from "../fixtures/apig-doc-examples";

describe("classify: every example answer of the query API", () => {
  it("reads the five documented 200 answers", () => {
    const obs = DOC_STATUS_EXAMPLES.map((b) => classify(200, b));
    expect(obs.map((o) => (o.ok ? o.status : o.code))).toEqual(["succeed", "succeed", "failed", "processing", "waiting"]);
    expect(obs.map((o) => (o.ok ? o.task_type : null))).toEqual(["import_api", "export_api", "import_api", "import_api", "import_api"]);
  });

  it("maps the documented error answers onto the error table", () => {
    const got = DOC_ERROR_EXAMPLES.map(({ status, body }) => classify(status, body));
    expect(got).toEqual([
      { ok: false, category: "permanent", code: "APIG.2001", message: expect.stringContaining("task_id"), http_status: 400 },
      { ok: false, category: "transient", code: "APIG.1002", message: "Incorrect token or token resolution failed", http_status: 401 },
      { ok: false, category: "permanent", code: "APIG.1005", message: "No permissions to request this method", http_status: 403 },
      { ok: false, category: "not_found", code: "APIG.3093", message: expect.stringContaining("does not exist"), http_status: 404 },
      { ok: false, category: "transient", code: "APIG.9999", message: "System error", http_status: 500 },
    ]);
  });

  it.each([
    [500, '{"error_code":"APIG.9008","error_msg":"Too many requests"}', "APIG.9008"],
    [500, '{"error_code":"APIG.3500","error_msg":"Internal error"}', "APIG.3500"],
    [429, "", "http_429"],
    [502, "<html><body>Bad Gateway</body></html>", "http_502"],
    [503, "", "http_503"],
    [404, "<html>not here</html>", "http_404"],
    [302, "", "http_302"],
  ])("%i %s is transient (%s)", (status, body, code) => {
    const o = classify(status, body);
    expect(o).toMatchObject({ ok: false, category: "transient", code, http_status: status });
  });

  it("a 200 that is not a task status is a transient bad_response, not a crash", () => {
    for (const body of ["", "null", "[]", "<html>", '{"task_status": 5}', '{"foo":1}']) {
      expect(classify(200, body)).toMatchObject({ ok: false, category: "transient", code: "bad_response" });
    }
  });

  it("tolerates task_result sent as an object or null", () => {
    const o = classify(200, JSON.stringify({ task_status: "succeed", task_type: "import_api", task_result: { group_id: "g" } }));
    expect(o).toMatchObject({ ok: true, task_result: '{"group_id":"g"}' });
    expect(classify(200, JSON.stringify({ task_status: "waiting", task_result: null }))).toMatchObject({ ok: true, task_result: "" });
  });
});

describe("parseTaskResult", () => {
  const results = DOC_STATUS_EXAMPLES.map((b) => {
    const o = classify(200, b);
    if (!o.ok) throw new Error("example did not parse");
    return parseTaskResult(o.task_result, o.task_type);
  });

  it("import example", () => {
    expect(results[0]).toEqual({
      kind: "import",
      group_id: "9100ae30705947cc9543d37cd7fb388c",
      swagger: { id: "de1852ab6c5e4090b0bd88a02058e650", result: "Success" },
      success_count: 1,
      failure_count: 0,
      ignore_count: 0,
      success: [{ id: "ee93ce6815f04896b301452982b92222", action: "create", method: "GET", path: "/test1" }],
      failure: [],
      ignore: [],
      truncated: false,
    });
  });

  it("export example (FileName/FileType/Comment)", () => {
    expect(results[1]).toMatchObject({ kind: "export", file_name: "test8-RELEASE-all-2023-07-11-19:54:22", file_type: ".json", truncated: false });
    const content = results[1]?.kind === "export" ? results[1].content : undefined;
    expect(JSON.parse(content ?? "")).toMatchObject({ swagger: "2.0", info: { title: "test8" } });
  });

  it("export in the prose spelling (file_type/content)", () => {
    expect(parseTaskResult('{"file_type":"yaml","content":"swagger: 2.0"}', "export_api")).toMatchObject({
      kind: "export",
      file_type: "yaml",
      content: "swagger: 2.0",
    });
  });

  it("failure example", () => {
    expect(results[2]).toEqual({ kind: "failure", error_code: "APIG.3201", error_msg: "The API group name already exists" });
  });

  it("pending examples have no result", () => {
    expect(results[3]).toBeNull();
    expect(results[4]).toBeNull();
  });

  it("keeps a non-JSON result raw", () => {
    expect(parseTaskResult("import finished OK", "import_api")).toEqual({ kind: "raw", raw: "import finished OK", truncated: false });
    expect(parseTaskResult("[1,2]", null)).toMatchObject({ kind: "raw" });
    expect(parseTaskResult('"just a string"', null)).toMatchObject({ kind: "raw" });
  });

  it("caps huge imports and files but counts everything", () => {
    const failure = Array.from({ length: 5000 }, (_, i) => ({ method: "GET", path: `/p${i}`, error_code: "APIG.3301", error_msg: "x".repeat(100) }));
    const r = parseTaskResult(JSON.stringify({ success: [], failure }), "import_api");
    expect(r).toMatchObject({ kind: "import", failure_count: 5000, truncated: true });
    expect(r?.kind === "import" && r.failure.length).toBe(MAX_LISTED);
    const big = parseTaskResult(JSON.stringify({ FileName: "f", Comment: "y".repeat(200_000) }), "export_api");
    expect(big).toMatchObject({ kind: "export", content_chars: 200_000, truncated: true });
    expect(big?.kind === "export" && big.content?.length).toBe(MAX_TEXT_CHARS);
  });

  it("survives wrong field types inside an import result", () => {
    const r = parseTaskResult(JSON.stringify({ group_id: 42, success: "nope", failure: [{ method: 1, path: null }], swagger: [] }), "import_api");
    expect(r).toMatchObject({ kind: "import", group_id: "42", success_count: 0, failure_count: 1, failure: [{ method: "1" }] });
  });
});

describe("statusFields: the hand check of a status answer takes only what the schema takes", () => {
  const fields = (d: { task_status: string; task_type?: string | null | undefined; task_result?: unknown }) => ({
    task_status: d.task_status,
    task_type: d.task_type,
    task_result: d.task_result,
  });
  const near = fc.record(
    {
      task_id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      task_status: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean()),
      task_type: fc.oneof(fc.string(), fc.constant(null), fc.integer(), fc.array(fc.string())),
      task_result: fc.jsonValue(),
      other: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  it("answers as the zod schema does, for any JSON (and for near misses of the status shape)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), near, fc.array(near)), (json) => {
        const z = statusBodySchema.safeParse(json);
        const got = statusFields(json);
        if (!z.success) expect(got).toBeNull();
        else expect(got === null ? null : fields(got)).toEqual(fields(z.data));
      }),
      { numRuns: 2_000 },
    );
  });
});
