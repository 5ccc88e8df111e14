/**
 * The local HTTP adapter and the router keep one request's fault to that
 * request: a handler that throws or never answers gets 503 `unavailable`
 * (Retry-After) and the server keeps serving; a table that fails answers the
 * request 503 through the real router; a large body without a known key is
 * refused before it is read.
 */
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createLambdaHttpServer, UNAUTHENTICATED_READ } from "../../infra/dev/local/http-adapter";
import { fromApiGatewayEvent, toApiGatewayResult } from "../../lib/http/apigw-event";
import { handleHttp } from "../../lib/http/router";
import { loadConfig } from "../../lib/platform/config";
import { buildDeps } from "../../lib/platform/runtime";
import { createLogger } from "../../lib/aws/log";

const KEY = "key-0123456789";
const keys = `acme:${createHash("sha256").update(KEY).digest("hex")}`;
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function serve(s: Server): Promise<string> {
  server = s;
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", () => ok()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const okAnswer = { statusCode: 200, headers: { "content-type": "application/json" }, body: "{}" };

describe("one request's fault stays in that request", () => {
  it("a handler that throws answers 503 unavailable with Retry-After, and the next request is served", async () => {
    let n = 0;
    const url = await serve(
      createLambdaHttpServer(async () => {
        if (n++ === 0) throw new TypeError("Cannot read properties of undefined");
        return okAnswer;
      }),
    );
    const bad = await request(url + "/tasks");
    expect(bad.statusCode).toBe(503);
    expect(bad.headers["retry-after"]).toBe("1");
    expect(await bad.body.json()).toEqual({ error: { code: "unavailable", message: expect.any(String) } });
    expect((await request(url + "/tasks")).statusCode).toBe(200);
  });

  it("a handler that never answers (a lost dynalite callback) answers 503 at the deadline", async () => {
    const url = await serve(createLambdaHttpServer(() => new Promise(() => {}), { answerWithinMs: 100 }));
    const r = await request(url + "/tasks");
    expect(r.statusCode).toBe(503);
    expect((await r.body.json()) as object).toMatchObject({ error: { code: "unavailable" } });
  });

  it("a table that does not answer makes the router answer 503 unavailable, never 500", async () => {
    const config = loadConfig({ API_KEYS: keys, DYNAMODB_ENDPOINT: "http://127.0.0.1:9", OTC_AUTH_TOKEN: "t" });
    const lines: string[] = [];
    const deps = buildDeps(config, { log: createLogger({ serviceName: "t", sink: (l) => lines.push(l) }) });
    const url = await serve(createLambdaHttpServer(async (e) => toApiGatewayResult(await handleHttp(deps, fromApiGatewayEvent(e)))));
    const r = await request(url + "/tasks", { headers: { authorization: `Bearer ${KEY}` } });
    expect(r.statusCode).toBe(503);
    expect(r.headers["retry-after"]).toBe("1");
    expect((await r.body.json()) as object).toMatchObject({ error: { code: "unavailable" } });
    expect(lines.some((l) => l.includes("api_error"))).toBe(true);
  });
});

describe("the key before a large body", () => {
  const authorized = (h: string | undefined) => h === `Bearer ${KEY}`;

  it("a declared large body without a known key is refused 401 without calling the handler", async () => {
    let calls = 0;
    const url = await serve(createLambdaHttpServer(async () => (calls++, okAnswer), { authorized }));
    const body = Buffer.alloc(6 * 1024 * 1024 - 1, 0x61);
    const r = await request(url + "/imports", { method: "POST", body, headers: { "content-type": "application/json", authorization: "Bearer wrong" } }).catch(
      (e: Error) => e,
    );
    // Either the 401 arrives, or the connection closes while we were still sending: never a read of 6 MiB.
    if (!(r instanceof Error)) {
      expect(r.statusCode).toBe(401);
      await r.body.dump();
    }
    expect(calls).toBe(0);
  });

  it("a streamed (chunked) body is cut at the unauthenticated limit; with the key it is read whole", async () => {
    const sizes: number[] = [];
    const url = await serve(
      createLambdaHttpServer(async (e) => (sizes.push(e.body ? Buffer.from(e.body, "base64").length : 0), okAnswer), { authorized }),
    );
    const chunks = () => Readable.from((function* () {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(16 * 1024, 0x61);
    })());
    const refused = await request(url + "/imports", { method: "POST", body: chunks(), headers: { authorization: "Bearer wrong" } }).catch((e: Error) => e);
    if (!(refused instanceof Error)) expect(refused.statusCode).toBe(401);
    expect(sizes).toEqual([]);
    const ok = await request(url + "/imports", { method: "POST", body: chunks(), headers: { authorization: `Bearer ${KEY}` } });
    expect(ok.statusCode).toBe(200);
    expect(sizes).toEqual([64 * 16 * 1024]);
    // A small body without a key still reaches the handler, which answers 401 itself (same answers as in AWS).
    await request(url + "/tasks", { method: "POST", body: "{}" });
    expect(sizes).toEqual([64 * 16 * 1024, 2]);
    expect(UNAUTHENTICATED_READ).toBe(64 * 1024);
  });
});
