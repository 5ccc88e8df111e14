import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { lambdaEndpoint, lambdaEnvCredentials, lambdaInvoker } from "../../lib/aws/lambda-invoke";
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

  it("takes the region and the role's credentials from Lambda's environment, or none outside Lambda", () => {
    expect(lambdaEnvCredentials({ AWS_REGION: "eu-central-1", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s", AWS_SESSION_TOKEN: "t" })).toEqual({
      region: "eu-central-1",
      endpoint: "https://lambda.eu-central-1.amazonaws.com",
      credentials: { accessKeyId: "a", secretAccessKey: "s", sessionToken: "t" },
    });
    expect(lambdaEnvCredentials({ AWS_REGION: "eu-central-1" })).toBeNull();
  });

  it("dials the configured endpoint (AWS_ENDPOINT_URL_LAMBDA, then AWS_ENDPOINT_URL), else the region's in its partition's domain", () => {
    expect(lambdaEndpoint({}, "eu-central-1")).toBe("https://lambda.eu-central-1.amazonaws.com");
    expect(lambdaEndpoint({}, "cn-north-1")).toBe("https://lambda.cn-north-1.amazonaws.com.cn");
    expect(lambdaEndpoint({}, "us-gov-west-1")).toBe("https://lambda.us-gov-west-1.amazonaws.com");
    expect(lambdaEndpoint({}, "us-iso-east-1")).toBe("https://lambda.us-iso-east-1.c2s.ic.gov");
    expect(lambdaEndpoint({ AWS_ENDPOINT_URL: "http://127.0.0.1:4566" }, "eu-central-1")).toBe("http://127.0.0.1:4566");
    expect(lambdaEndpoint({ AWS_ENDPOINT_URL: "http://127.0.0.1:4566", AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:9001" }, "eu-central-1")).toBe("http://127.0.0.1:9001");
    expect(lambdaEnvCredentials({ AWS_REGION: "eu-central-1", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s", AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:9001" })?.endpoint).toBe(
      "http://127.0.0.1:9001",
    );
  });
});
