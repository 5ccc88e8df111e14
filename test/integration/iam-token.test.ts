/**
 * The IAM token provider against the simulator's IAM on 127.0.0.1: caching,
 * renewal before expiry, single flight, one renewal after a 401, 429 with
 * Retry-After, and no secret in any error.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { request } from "undici";
import { type ApigSimulator, type SimulatorOptions, startApigSimulator } from "../../infra/dev/apig-simulator";
import { createIamTokenProvider, IamAuthError, type IamTokenOptions } from "../../lib/otc/iam-token";

const USER = { domain: "acme-domain", name: "ci-bot", password: "S3cret-Pa55word!-never-shown" };
const T0 = Date.parse("2030-01-01T00:00:00Z");
const HOUR = 3_600_000;

const running: ApigSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(opts: SimulatorOptions = {}): Promise<ApigSimulator> {
  const sim = await startApigSimulator({ auth: { users: [USER] }, ...opts });
  running.push(sim);
  return sim;
}

const provider = (sim: ApigSimulator, o: Partial<IamTokenOptions> = {}) =>
  createIamTokenProvider({ iamEndpoint: sim.url, username: USER.name, password: USER.password, domainName: USER.domain, ...o });

const iamCalls = (sim: ApigSimulator) => sim.requests.filter((r) => r.method === "POST" && r.path === "/v3/auth/tokens").length;

async function queryTask(sim: ApigSimulator, token: string, taskId: string): Promise<number> {
  const res = await request(`${sim.url}/v2/proj1/apigw/instances/inst1/async-tasks/${taskId}`, { headers: { "x-auth-token": token } });
  await res.body.dump();
  return res.statusCode;
}

/** The error a promise rejects with; fails the test when it resolves. */
async function failure(p: Promise<unknown>): Promise<IamAuthError> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(IamAuthError);
  if (!(e instanceof IamAuthError)) throw new Error("expected an IamAuthError");
  return e;
}

/** Every way an error can end up in a log, so a leak anywhere is caught. */
const renderings = (e: Error) => [e.message, String(e), e.stack ?? "", JSON.stringify(e), JSON.stringify({ ...e, cause: String(e.cause) })];

describe("IAM token provider", () => {
  it("asks IAM with the documented body and caches the token across 50 calls", async () => {
    const sim = await start();
    const p = provider(sim);
    const tokens = [];
    for (let i = 0; i < 50; i++) tokens.push(await p.getToken("proj1"));
    expect(new Set(tokens).size).toBe(1);
    expect(iamCalls(sim)).toBe(1);
    const sent = sim.requests[0]!;
    expect(sent.headers["content-type"]).toBe("application/json;charset=utf8");
    // The token works on APIG.
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "t", states: [{ status: "processing" }] });
    expect(await queryTask(sim, tokens[0]!, "t")).toBe(200);
  });

  it("keeps one token per project", async () => {
    const sim = await start();
    const p = provider(sim);
    const a = await p.getToken("proj1");
    const b = await p.getToken("proj2");
    expect(a).not.toBe(b);
    expect(await p.getToken("proj1")).toBe(a);
    p.invalidate("proj2", b);
    expect(await p.getToken("proj1")).toBe(a);
    expect(iamCalls(sim)).toBe(2);
    expect(await p.getToken("proj2")).not.toBe(b);
    expect(iamCalls(sim)).toBe(3);
  });

  it("renews a token renewBeforeMs before expires_at, not earlier", async () => {
    let now = T0;
    const sim = await start({ now: () => now, auth: { users: [USER], tokenTtlS: 24 * 3600 } });
    const p = provider(sim, { now: () => now });
    const first = await p.getToken("proj1");
    now = T0 + 22 * HOUR + 59 * 60_000;
    expect(await p.getToken("proj1")).toBe(first);
    expect(iamCalls(sim)).toBe(1);
    now = T0 + 23 * HOUR + 60_000;
    const second = await p.getToken("proj1");
    expect(second).not.toBe(first);
    expect(iamCalls(sim)).toBe(2);
    // A custom margin is honoured too.
    const q = provider(sim, { now: () => now, renewBeforeMs: 10 * 60_000 });
    const third = await q.getToken("proj1");
    now += 23 * HOUR + 49 * 60_000;
    expect(await q.getToken("proj1")).toBe(third);
    now += 2 * 60_000;
    expect(await q.getToken("proj1")).not.toBe(third);
  });

  it("serves 20 concurrent callers, and callers arriving mid-request, with one IAM request", async () => {
    const sim = await start();
    let answer!: () => void;
    sim.scriptIam([{ hold: new Promise<void>((r) => (answer = r)) }]);
    const p = provider(sim);
    const early = Array.from({ length: 20 }, () => p.getToken("proj1"));
    // IAM has the request and has not answered: a caller now arrives mid-request.
    await vi.waitFor(() => expect(iamCalls(sim)).toBe(1));
    const late = p.getToken("proj1");
    answer();
    const tokens = await Promise.all([...early, late]);
    expect(new Set(tokens).size).toBe(1);
    expect(iamCalls(sim)).toBe(1);
  });

  it("renews exactly once when 10 pollers see the same token refused, and ignores a stale invalidate", async () => {
    const sim = await start();
    for (let i = 0; i < 10; i++) sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: `t${i}`, states: [{ status: "processing" }] });
    const p = provider(sim);
    const old = await p.getToken("proj1");
    sim.expireTokens();
    const statuses = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const token = await p.getToken("proj1");
        if ((await queryTask(sim, token, `t${i}`)) !== 401) return "first try passed";
        p.invalidate("proj1", token);
        return queryTask(sim, await p.getToken("proj1"), `t${i}`);
      }),
    );
    expect(statuses).toEqual(Array(10).fill(200));
    expect(iamCalls(sim)).toBe(2);
    const fresh = await p.getToken("proj1");
    expect(fresh).not.toBe(old);
    // A poller that saw the old token late must not throw away the new one.
    p.invalidate("proj1", old);
    expect(await p.getToken("proj1")).toBe(fresh);
    expect(iamCalls(sim)).toBe(2);
  });

  it("waits out a 429 for Retry-After seconds, then succeeds", async () => {
    const sim = await start();
    sim.scriptIam([{ status: 429, headers: { "retry-after": "1", "content-type": "application/json" }, body: '{"error":{"code":429}}' }]);
    const p = provider(sim);
    const t0 = Date.now();
    const token = await p.getToken("proj1");
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(990);
    expect(waited).toBeLessThan(5000);
    expect(token).toMatch(/^MII/);
    expect(iamCalls(sim)).toBe(2);
  });

  it("gives up with iam_throttled after maxRetries429, backing off without Retry-After", async () => {
    const sim = await start();
    sim.scriptIam(Array.from({ length: 5 }, () => ({ status: 429 })));
    const waits: number[] = [];
    const p = provider(sim, { maxRetries429: 2, sleep: async (ms) => void waits.push(ms) });
    const e = await failure(p.getToken("proj1"));
    expect(e).toMatchObject({ code: "iam_throttled", httpStatus: 429 });
    expect(waits).toEqual([1000, 2000]);
    expect(iamCalls(sim)).toBe(3);
  });

  it("fails at once with iam_throttled and retryAfterMs when Retry-After is beyond the longest wait", async () => {
    const sim = await start();
    sim.scriptIam([{ status: 429, headers: { "retry-after": "3600" } }]);
    const waits: number[] = [];
    const p = provider(sim, { sleep: async (ms) => void waits.push(ms) });
    expect(await failure(p.getToken("proj1"))).toMatchObject({ code: "iam_throttled", retryAfterMs: 3_600_000 });
    expect(waits).toEqual([]);
    expect(iamCalls(sim)).toBe(1);
  });

  it("shares one failure among concurrent callers and does not cache it", async () => {
    const sim2 = await start();
    sim2.scriptIam([{ status: 503, body: "<html>down</html>" }]);
    const p = provider(sim2);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => p.getToken("proj1")));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
    expect(iamCalls(sim2)).toBe(1);
    const e = results[0]!.status === "rejected" ? results[0]!.reason : undefined;
    expect(e).toMatchObject({ code: "iam_unavailable", httpStatus: 503 });
    // The next call tries again and succeeds.
    expect(await p.getToken("proj1")).toMatch(/^MII/);
    expect(iamCalls(sim2)).toBe(2);
  });

  describe("never shows the password or a token in an error", () => {
    const assertClean = (e: IamAuthError, ...secrets: string[]) => {
      for (const text of renderings(e)) for (const s of [USER.password, ...secrets]) expect(text).not.toContain(s);
    };

    it("wrong password: iam_unauthorized with the status", async () => {
      const sim = await start();
      const p = createIamTokenProvider({ iamEndpoint: sim.url, username: USER.name, password: "Wrong-Pa55word-xyz", domainName: USER.domain });
      const e = await failure(p.getToken("proj1"));
      expect(e).toMatchObject({ code: "iam_unauthorized", httpStatus: 401, name: "IamAuthError" });
      for (const text of renderings(e)) expect(text).not.toContain("Wrong-Pa55word-xyz");
    });

    it("an error page that echoes the password: iam_unavailable without quoting it", async () => {
      const sim = await start();
      sim.scriptIam([{ status: 500, headers: { "content-type": "text/html" }, body: `<html>request was ${USER.password}</html>` }]);
      const e = await failure(provider(sim).getToken("proj1"));
      expect(e).toMatchObject({ code: "iam_unavailable", httpStatus: 500 });
      assertClean(e);
    });

    it("a 201 without expires_at, carrying a token: iam_bad_response without the token", async () => {
      const sim = await start();
      sim.scriptIam([{ status: 201, headers: { "x-subject-token": "MIIleakedtoken123" }, body: '{"token":{}}' }]);
      const e = await failure(provider(sim).getToken("proj1"));
      expect(e).toMatchObject({ code: "iam_bad_response" });
      assertClean(e, "MIIleakedtoken123");
    });

    it("a 201 without X-Subject-Token: iam_bad_response", async () => {
      const sim = await start();
      sim.scriptIam([{ status: 201, body: JSON.stringify({ token: { expires_at: "2099-01-01T00:00:00Z" } }) }]);
      expect(await failure(provider(sim).getToken("proj1"))).toMatchObject({ code: "iam_bad_response" });
    });

    // An IAM that never answers fails only by the provider's own timeout; with
    // the 10 s default instead of the 150 ms asked for, the test's 5 s limit fails it.
    it("a timeout and a connection reset: iam_unavailable", { timeout: 5_000 }, async () => {
      const sim = await start();
      sim.scriptIam([{ hold: new Promise(() => undefined) }, { reset: true }]);
      const p = provider(sim, { timeoutMs: 150 });
      const slow = await failure(p.getToken("proj1"));
      expect(slow).toMatchObject({ code: "iam_unavailable" });
      expect(slow.message).toMatch(/TimeoutError|UND_ERR_HEADERS_TIMEOUT|AbortError/);
      assertClean(slow);
      const reset = await failure(p.getToken("proj1"));
      expect(reset).toMatchObject({ code: "iam_unavailable" });
      assertClean(reset);
    });

    it("an unreachable IAM: iam_unavailable", async () => {
      const port = await new Promise<number>((ok) => {
        const s = createServer();
        s.listen(0, "127.0.0.1", () => {
          const a = s.address();
          s.close(() => ok(typeof a === "object" && a !== null ? a.port : 1));
        });
      });
      const p = createIamTokenProvider({ iamEndpoint: `http://127.0.0.1:${port}/`, username: USER.name, password: USER.password, domainName: USER.domain });
      const e = await failure(p.getToken("proj1"));
      expect(e).toMatchObject({ code: "iam_unavailable" });
      expect(e.message).toContain("ECONNREFUSED");
      assertClean(e);
    });
  });
});
