/**
 * Waiting without API Gateway: answers about an open watch name the read
 * function's own URL (`Link: rel="monitor"`), the CLI's reads go there, and
 * that URL answers nothing but reads. Two real servers on loopback stand for
 * the HTTP API and the read function's URL, over one table.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLambdaHttpServer } from "../../infra/dev/local/http-adapter";
import { fromApiGatewayEvent, toApiGatewayResult } from "../../lib/http/apigw-event";
import { handleHttp } from "../../lib/http/router";
import { runCli } from "../support/cli-run";
import { type Harness, KEYS, registration, startHarness } from "../support/harness";

const DONE = JSON.stringify({ success: [{ id: "a", method: "GET", path: "/a", action: "create" }], failure: [], group_id: "g" });

let h: Harness;
let readServer: Server;
let readUrl: string;
/** Requests each server saw, as `METHOD path`. */
const seen = { api: [] as string[], read: [] as string[] };

beforeAll(async () => {
  h = await startHarness();
  const readDeps = { ...h.deps, servedRoutes: ["GET /tasks/{task_id}"] };
  readServer = createLambdaHttpServer(async (event) => {
    seen.read.push(`${event.requestContext.http.method} ${event.rawPath}`);
    return toApiGatewayResult(await handleHttp(readDeps, fromApiGatewayEvent(event)));
  });
  await new Promise<void>((ok) => readServer.listen(0, "127.0.0.1", () => ok()));
  readUrl = `http://127.0.0.1:${(readServer.address() as AddressInfo).port}`;
  // The API's answers name the read URL, as READ_URL does deployed.
  h.deps.readUrl = readUrl;
});
afterAll(async () => {
  await new Promise((ok) => readServer?.close(ok));
  await h?.close();
});

const cli = (args: string[]) => runCli(args, { TASKWATCH_URL: apiProxy!, TASKWATCH_API_KEY: KEYS.acme });

/** The harness's API behind a counting proxy, so the test sees which reads went through it. */
let apiProxy: string | undefined;
beforeAll(async () => {
  const proxy = createLambdaHttpServer(async (event) => {
    seen.api.push(`${event.requestContext.http.method} ${event.rawPath}`);
    return toApiGatewayResult(await handleHttp(h.deps, fromApiGatewayEvent(event)));
  });
  await new Promise<void>((ok) => proxy.listen(0, "127.0.0.1", () => ok()));
  apiProxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return () => new Promise<void>((ok) => proxy.close(() => ok()));
});

describe("the read URL", () => {
  it("answers about an open watch name it; a finished one does not", async () => {
    h.task("ru-open", ["processing"]);
    const reg = await h.call("POST", "/tasks", { body: registration("ru-open") });
    expect(reg.headers.link).toBe(`<${readUrl}/tasks/ru-open>; rel="monitor"`);
    h.task("ru-open", [{ status: "succeed", result: DONE }]);
    await h.tick();
    const done = await h.call("GET", "/tasks/ru-open");
    expect(done.json).toMatchObject({ outcome: "succeeded" });
    expect(done.headers.link).toBeUndefined();
  });

  it("answers reads of the caller's own watches and nothing else", async () => {
    h.task("ru-only", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("ru-only") });
    const auth = { authorization: `Bearer ${KEYS.acme}` };
    expect((await fetch(`${readUrl}/tasks/ru-only`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${readUrl}/tasks/ru-only`)).status).toBe(401);
    expect((await fetch(`${readUrl}/tasks/ru-only`, { headers: { authorization: `Bearer ${KEYS.other}` } })).status).toBe(404);
    const post = await fetch(`${readUrl}/tasks`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(registration("ru-sneak")) });
    expect(post.status).toBe(404);
    expect(await post.json()).toMatchObject({ error: { code: "not_found", message: "no such route" } });
    for (const path of ["/tasks", "/health", "/subscriptions", "/openapi.json"]) expect((await fetch(`${readUrl}${path}`, { headers: auth })).status, path).toBe(404);
  });

  it("taskwatch register --wait reads through it, not through the API", async () => {
    seen.api.length = 0;
    seen.read.length = 0;
    h.task("ru-cli", ["processing", "processing", { status: "succeed", result: DONE }]);
    const r = await h.whileTicking(() => cli(["register", "--project", "proj1", "--instance", "inst1", "--task", "ru-cli", "--wait", "--json"]));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ task_id: "ru-cli", outcome: "succeeded" });
    expect(seen.api).toEqual(["POST /tasks"]);
    expect(seen.read.length).toBeGreaterThanOrEqual(1);
    expect(new Set(seen.read)).toEqual(new Set(["GET /tasks/ru-cli"]));
  });

  it("a read URL that cannot be reached: the CLI reads through the API instead", async () => {
    const dead = createLambdaHttpServer(async () => ({ statusCode: 200, body: "" }));
    await new Promise<void>((ok) => dead.listen(0, "127.0.0.1", () => ok()));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise((ok) => dead.close(ok));
    h.deps.readUrl = deadUrl;
    try {
      seen.api.length = 0;
      h.task("ru-dead", ["processing"]);
      const reg = await h.call("POST", "/tasks", { body: registration("ru-dead") });
      expect(reg.headers.link).toContain(deadUrl);
      // Still running at the end: exit 4, having read through the API after the read URL failed once.
      const r = await cli(["wait", "ru-dead", "--timeout", "5"]);
      expect(r.code, r.stderr).toBe(4);
      expect(seen.api.filter((l) => l === "GET /tasks/ru-dead").length).toBeGreaterThanOrEqual(2);
    } finally {
      h.deps.readUrl = readUrl;
    }
  });
});
