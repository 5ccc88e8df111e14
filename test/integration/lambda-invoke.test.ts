import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { LambdaInvokeError, lambdaInvoker, withInvokeRetry } from "../../lib/aws/lambda-invoke";
import { Agent } from "../../lib/net/undici";
import { selfInvoker } from "../../lib/platform/worker-invoker";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A Lambda API stand-in answering `statuses` in turn (the last one from then on); "reset" drops the connection. */
async function fakeLambda(...statuses: Array<number | "reset">) {
  const seen: Array<{ method: string; path: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() });
      const status = statuses[Math.min(seen.length, statuses.length) - 1]!;
      if (status === "reset") return void req.socket.destroy();
      res.writeHead(status).end(status === 202 ? "" : '{"Message":"denied"}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  closers.push(() => new Promise<void>((ok) => server.close(() => ok())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "session-token" };

describe("Lambda asynchronous invoke (fan-out)", () => {
  it("POSTs the payload as an Event invocation, SigV4-signed for lambda in the region", async () => {
    const lambda = await fakeLambda(202);
    const invoke = lambdaInvoker({ functionName: "svc-prod-poller", region: "eu-central-1", credentials, dispatcher: new Agent(), endpoint: lambda.url });
    await invoke({ kind: "poll-shards", shards: ["S#3"], maxRps: 12.5 });
    expect(lambda.seen).toHaveLength(1);
    const [r] = lambda.seen;
    expect(r).toMatchObject({ method: "POST", path: "/2015-03-31/functions/svc-prod-poller/invocations" });
    expect(JSON.parse(r!.body)).toEqual({ kind: "poll-shards", shards: ["S#3"], maxRps: 12.5 });
    expect(r!.headers["x-amz-invocation-type"]).toBe("Event");
    expect(r!.headers["x-amz-security-token"]).toBe("session-token");
    expect(r!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-central-1\/lambda\/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-invocation-type[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(JSON.stringify(r!.headers)).not.toContain(credentials.secretAccessKey);
  });

  it("throws when Lambda does not accept the invocation, naming the status", async () => {
    const lambda = await fakeLambda(403);
    const invoke = lambdaInvoker({ functionName: "f", region: "eu-central-1", credentials, dispatcher: new Agent(), endpoint: lambda.url });
    await expect(invoke({})).rejects.toThrow(/answered 403/);
  });

  it("retried: a 429, a 502 and a dropped connection, then accepted; the same signed payload each time", async () => {
    const lambda = await fakeLambda(429, 502, "reset", 202);
    const waits: number[] = [];
    const invoke = withInvokeRetry(
      lambdaInvoker({ functionName: "f", region: "eu-central-1", credentials, dispatcher: new Agent(), endpoint: lambda.url }),
      { retries: 3, baseMs: 100, capMs: 1_000, sleep: async (ms) => void waits.push(ms), random: () => 0.999 },
    );
    expect(await invoke({ kind: "poll-shards", shards: ["S#1"], maxRps: 50 })).toBe(4);
    expect(lambda.seen).toHaveLength(4);
    expect(new Set(lambda.seen.map((r) => r.body))).toEqual(new Set([JSON.stringify({ kind: "poll-shards", shards: ["S#1"], maxRps: 50 })]));
    // Full jitter under ceilings of 100, 200 and 400 ms.
    expect(waits).toEqual([99, 199, 399]);
  });

  it("gives up after 3 retries, and at once on a refusal that cannot pass", async () => {
    const busy = await fakeLambda(429);
    const retry = { retries: 3, baseMs: 100, capMs: 1_000, sleep: async () => {}, random: () => 0.5 };
    const invoke = withInvokeRetry(lambdaInvoker({ functionName: "f", region: "eu-central-1", credentials, dispatcher: new Agent(), endpoint: busy.url }), retry);
    const err = await invoke({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LambdaInvokeError);
    expect((err as LambdaInvokeError).status).toBe(429);
    expect(busy.seen).toHaveLength(4);
    const denied = await fakeLambda(403);
    await expect(
      withInvokeRetry(lambdaInvoker({ functionName: "f", region: "eu-central-1", credentials, dispatcher: new Agent(), endpoint: denied.url }), retry)({}),
    ).rejects.toThrow(/answered 403/);
    expect(denied.seen).toHaveLength(1);
  });

  it("the poller's own invoker: this function, at AWS_ENDPOINT_URL_LAMBDA, retried; none outside Lambda", async () => {
    const lambda = await fakeLambda(503, 202);
    const env = { AWS_LAMBDA_FUNCTION_NAME: "svc-prod-poller", AWS_REGION: "eu-central-1", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s", AWS_ENDPOINT_URL_LAMBDA: lambda.url };
    await selfInvoker(env)!.invoke({ kind: "poll-shards", shards: ["S#2"], maxRps: 40 });
    expect(lambda.seen.map((r) => r.path)).toEqual(["/2015-03-31/functions/svc-prod-poller/invocations", "/2015-03-31/functions/svc-prod-poller/invocations"]);
    expect(selfInvoker({ AWS_REGION: "eu-central-1" })).toBeUndefined();
  });
});
