import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { lambdaInvoker } from "../../lib/aws/lambda-invoke";
import { Agent } from "../../lib/net/undici";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function fakeLambda(status: number) {
  const seen: Array<{ method: string; path: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() });
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
});
