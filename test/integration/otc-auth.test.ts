/**
 * Real OTC authentication against the simulator on 127.0.0.1: AK/SK signing
 * verified server side, IAM user tokens cached, renewed, shared and retried.
 */
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { startApigSimulator } from "../../infra/dev/apig-simulator";
import { createIamTokenProvider, IamAuthError } from "../../lib/otc/iam-token";
import { signRequest } from "../../lib/otc/signer";
import { type Harness, registration, startHarness } from "../support/harness";

const AK = "QTWAOYTTINDUT2QVKYUC";
const SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
const USER = { domain: "acme-domain", name: "ci-bot", password: "S3cret-Passw0rd!" };
const SECRETS = [SK, USER.password];

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function harness(env: Record<string, string>): Promise<Harness> {
  const h = await startHarness({
    env: { OTC_AUTH_TOKEN: "", ...env },
    sim: { auth: { accessKey: AK, secretKey: SK, users: [USER] } },
  });
  open.push(h);
  return h;
}

const iamCalls = (h: Harness) => h.sim.requests.filter((r) => r.path === "/v3/auth/tokens").length;

describe("AK/SK", () => {
  it("the poller's signed queries are accepted; a tampered header, path, query or body is refused with 401 APIG.1002", async () => {
    const h = await harness({ OTC_ACCESS_KEY: AK, OTC_SECRET_KEY: SK });
    h.task("sig-1", ["processing", { status: "succeed", result: "{}" }], null);
    const reg = await h.call("POST", "/tasks", { body: registration("sig-1") });
    expect(reg.json).toMatchObject({ status: "processing", last_error: null });
    await h.tick();
    expect((await h.call("GET", "/tasks/sig-1")).json.status).toBe("succeed");
    const sent = h.sim.requests.find((r) => r.path.endsWith("/sig-1"))!;
    expect(String(sent.headers.authorization)).toMatch(/^SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=\S*host\S*x-sdk-date, Signature=[0-9a-f]{64}$/);

    const url = new URL(`${h.sim.url}/v2/proj1/apigw/instances/inst1/async-tasks/sig-1?x=1`);
    const headers = signRequest(
      { method: "GET", url, headers: { host: url.host, "content-type": "application/json", "x-project-id": "proj1" }, body: "" },
      { accessKey: AK, secretKey: SK },
      new Date(),
    );
    const send = async (u: URL, hdrs: Record<string, string>, method: "GET" | "POST" = "GET", body?: string) => {
      const res = await request(u, { method, headers: hdrs, ...(body !== undefined ? { body } : {}) });
      return { status: res.statusCode, json: (await res.body.json()) as { error_code?: string } };
    };
    expect((await send(url, headers)).status).toBe(200);
    const refused = [
      await send(url, { ...headers, "content-type": "text/plain" }),
      await send(new URL(url.href.replace("sig-1", "sig-2")), headers),
      await send(new URL(url.href.replace("x=1", "x=2")), headers),
      await send(url, headers, "POST", "{}"),
    ];
    for (const r of refused) expect(r).toEqual({ status: 401, json: expect.objectContaining({ error_code: "APIG.1002" }) });
  });

  it("a wrong SK shows as a 401 on the watch and never leaks", async () => {
    const h = await harness({ OTC_ACCESS_KEY: AK, OTC_SECRET_KEY: "wrong-secret-key-value" });
    h.task("sig-bad", ["processing"], null);
    const reg = await h.call("POST", "/tasks", { body: registration("sig-bad") });
    expect(reg.json).toMatchObject({ status: "registered", last_error: { code: "APIG.1002", http_status: 401 } });
    expect(reg.text + h.logs.join("")).not.toContain("wrong-secret-key-value");
  });
});

describe("IAM user token", () => {
  it("is fetched once and cached across many polls", async () => {
    const h = await harness({ OTC_USERNAME: USER.name, OTC_PASSWORD: USER.password, OTC_DOMAIN_NAME: USER.domain });
    for (let i = 0; i < 10; i++) {
      h.task(`iam-${i}`, ["processing"], null);
      await h.call("POST", "/tasks", { body: registration(`iam-${i}`) });
    }
    for (let i = 0; i < 5; i++) await h.tick();
    expect(h.sim.requests.filter((r) => r.path.includes("/async-tasks/iam-")).length).toBe(60);
    expect(iamCalls(h)).toBe(1);
    // 61 requests over pooled keep-alive connections, not one connection each.
    expect(h.sim.connections()).toBeLessThanOrEqual(10);
    const tokenHeader = String(h.sim.requests.find((r) => r.path.includes("/async-tasks/iam-0"))!.headers["x-auth-token"]);
    expect(tokenHeader).toMatch(/^MII/);
    expect(h.logs.join("")).not.toContain(tokenHeader);
    expect((await h.call("GET", "/tasks?limit=100")).text).not.toContain(tokenHeader);
  });

  it("a 401 from APIG renews the token once and retries, for all concurrent polls together", async () => {
    const h = await harness({ OTC_USERNAME: USER.name, OTC_PASSWORD: USER.password, OTC_DOMAIN_NAME: USER.domain });
    for (let i = 0; i < 6; i++) {
      h.task(`ren-${i}`, ["processing", { status: "succeed", result: "{}" }], null);
      await h.call("POST", "/tasks", { body: registration(`ren-${i}`) });
    }
    expect(iamCalls(h)).toBe(1);
    h.sim.expireTokens();
    const s = await h.tick();
    expect(s.transitions).toBe(6);
    expect(iamCalls(h)).toBe(2);
    const list = (await h.call("GET", "/tasks?status=succeed")).json.items;
    expect(list).toHaveLength(6);
  });

  it("provider: single flight, renewal before expiry, Retry-After on 429, no secret in errors", async () => {
    let now = Date.parse("2026-11-28T10:00:00Z");
    const sim = await startApigSimulator({ auth: { users: [USER], tokenTtlS: 86_400 }, now: () => now });
    open.push(sim);
    const p = createIamTokenProvider({ iamEndpoint: sim.url, username: USER.name, password: USER.password, domainName: USER.domain, now: () => now });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => p.getToken("proj1")));
    expect(new Set(tokens).size).toBe(1);
    expect(sim.requests.length).toBe(1);
    for (let i = 0; i < 50; i++) await p.getToken("proj1");
    expect(sim.requests.length).toBe(1);
    // A token per project.
    await p.getToken("proj2");
    expect(sim.requests.length).toBe(2);
    // 22.5 h later: within the 1 h renewal margin? Not yet. 23.5 h: yes.
    now += 22.5 * 3_600_000;
    await p.getToken("proj1");
    expect(sim.requests.length).toBe(2);
    now += 1 * 3_600_000;
    const renewed = await p.getToken("proj1");
    expect(renewed).not.toBe(tokens[0]);
    expect(sim.requests.length).toBe(3);
    // Ten pollers saw the same refused token: one renewal.
    for (let i = 0; i < 10; i++) p.invalidate("proj1", renewed);
    await Promise.all(Array.from({ length: 10 }, () => p.getToken("proj1")));
    expect(sim.requests.length).toBe(4);

    sim.scriptIam([{ status: 429, headers: { "retry-after": "1" }, body: "{}" }]);
    p.invalidate("proj1", await p.getToken("proj1"));
    const t0 = Date.now();
    await p.getToken("proj1");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(sim.requests.length).toBe(6);

    const bad = createIamTokenProvider({ iamEndpoint: sim.url, username: USER.name, password: "Wrong-Pa55word", domainName: USER.domain });
    const e = await bad.getToken("proj1").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IamAuthError);
    expect((e as IamAuthError).code).toBe("iam_unauthorized");
    expect(String((e as Error).message) + String((e as Error).stack)).not.toContain("Wrong-Pa55word");
  });

  it("wrong IAM credentials show on the watch without the password", async () => {
    const h = await harness({ OTC_USERNAME: USER.name, OTC_PASSWORD: "Not-The-Password-42", OTC_DOMAIN_NAME: USER.domain });
    const reg = await h.call("POST", "/tasks", { body: registration("iam-bad") });
    expect(reg.json).toMatchObject({ status: "registered", last_error: { code: "iam_unauthorized" } });
    const everything = reg.text + h.logs.join("") + (await h.call("GET", "/tasks")).text;
    for (const s of [...SECRETS, "Not-The-Password-42"]) expect(everything).not.toContain(s);
  });
});
