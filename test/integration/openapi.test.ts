/**
 * GET /openapi.json: a valid OpenAPI 3.1 document (checked by an independent
 * validator) that covers every route the router serves and the stack deploys.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { compileErrors, validate } from "@readme/openapi-parser";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

type Doc = { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>> };

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();

describe("GET /openapi.json", () => {
  it("needs no key and passes an independent OpenAPI 3.1 validator", async () => {
    const r = await h.call("GET", "/openapi.json", { key: null });
    expect(r.status).toBe(200);
    const doc = r.json as unknown as Doc;
    expect(doc.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
  });

  it("documents every route the router serves, and the router serves every documented one", async () => {
    const doc = (await h.call("GET", "/openapi.json", { key: null })).json as unknown as Doc;
    for (const op of operations(doc)) {
      const [method, path] = op.split(" ") as [string, string];
      const r = await h.call(method, path.replace(/\{[^}]+\}/g, "no-such-task"), { body: {} });
      // Served: whatever the answer, it is not "no such route" nor "method not allowed".
      expect(r.json?.error?.message ?? "", op).not.toBe("no such route");
      expect(r.status, op).not.toBe(405);
    }
    // Any other method on a documented path is refused: nothing is served undocumented there.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE"].filter((m) => !(m.toLowerCase() in ops))) {
        expect((await h.call(m, path.replace(/\{[^}]+\}/g, "x"))).status, `${m} ${path}`).toBe(405);
      }
    }
    // And paths off the table are unknown.
    for (const p of ["/", "/task", "/tasks/x/y", "/imports/x", "/openapi.yaml"]) expect((await h.call("GET", p)).status, p).toBe(404);
  });

  it("is what serverless.yml routes to the api and read functions (same handler): the same method and path list", async () => {
    const doc = (await h.call("GET", "/openapi.json", { key: null })).json as unknown as Doc;
    // CloudFormation tags (!Ref, !If ...) are kept as plain values: only the routes matter here.
    const sls = parse(readFileSync(join(import.meta.dirname, "..", "..", "serverless.yml"), "utf8"), { logLevel: "error" }) as {
      functions: Record<"api" | "read", { handler: string; events: Array<{ httpApi: string }> }>;
    };
    // GET /tasks/{task_id} is served by the small read function (issue 18), with the api's handler.
    expect(sls.functions.read.handler).toBe(sls.functions.api.handler);
    const routed = [...sls.functions.api.events, ...sls.functions.read.events].map((e) => e.httpApi);
    expect(routed.sort()).toEqual(operations(doc));
  });

  it("describes bodies, answers and errors from the same schemas that validate requests", async () => {
    const doc = (await h.call("GET", "/openapi.json", { key: null })).json as unknown as Record<string, any>;
    const register = doc.paths["/tasks"].post;
    const body = register.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["project_id", "instance_id", "task_id"]);
    expect(body.additionalProperties).toBe(false);
    expect(doc.paths["/tasks/{task_id}"].get.parameters.map((p: { name: string }) => p.name)).toEqual(["task_id", "wait"]);
    expect(doc.paths["/tasks/{task_id}"].get.parameters[1].schema).toMatchObject({ minimum: 0, maximum: 25 });
    expect(doc.paths["/imports"].post.responses["422"].content["application/json"].schema.$ref).toBe("#/components/schemas/Error");
    expect(doc.paths["/health"].get.security).toEqual([]);
    const watch = doc.components.schemas.Watch;
    expect(watch.properties.outcome).toBeDefined();
    expect(watch.properties.notify.items.properties.attempts_log.items.required.sort()).toEqual(["at", "duration_ms", "error", "http_status"]);
    // A field the registration schema refuses is refused by the API too (one schema, not two).
    const r = await h.call("POST", "/tasks", { body: { project_id: "p", instance_id: "i", task_id: "t", surprise: 1 } });
    expect(r.status).toBe(400);
  });
});
