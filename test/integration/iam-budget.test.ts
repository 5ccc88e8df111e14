/**
 * One IAM token fetch, tries and Retry-After waits included, ends within its
 * budget, which the poller's reserve counts: IAM throttling cannot carry a
 * poll past the Lambda's hard stop.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type ApigSimulator, startApigSimulator } from "../../infra/dev/apig-simulator";
import { IAM_FETCH_BUDGET_MS, pollerTiming } from "../../lib/app/timing";
import { createIamTokenProvider } from "../../lib/otc/iam-token";

const USER = { domain: "acme-domain", name: "ci-bot", password: "S3cret-Pa55word!-never-shown" };
const running: ApigSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

describe("IAM fetch budget", () => {
  it("gives up with iam_throttled instead of waiting past the budget, on a virtual clock", async () => {
    const sim = await startApigSimulator({ auth: { users: [USER] } });
    running.push(sim);
    // Every answer a 429 asking for 5 s: three waits (15 s) would pass the 12 s budget.
    sim.scriptIam(Array.from({ length: 5 }, () => ({ status: 429, headers: { "retry-after": "5" } })));
    let now = Date.parse("2030-01-01T00:00:00Z");
    const started = now;
    const waits: number[] = [];
    const p = createIamTokenProvider({
      iamEndpoint: sim.url,
      username: USER.name,
      password: USER.password,
      domainName: USER.domain,
      now: () => now,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    });
    await expect(p.getToken("proj1")).rejects.toMatchObject({ code: "iam_throttled" });
    expect(waits).toEqual([5000, 5000]);
    expect(now - started).toBeLessThanOrEqual(IAM_FETCH_BUDGET_MS);
  });

  it("is counted in the poller's reserve", () => {
    const t = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });
    expect(t.reserveMs).toBeGreaterThanOrEqual(IAM_FETCH_BUDGET_MS + 2 * 10_000 + 15_000);
    // The loop covers up to 75 s (the handover: the schedule plus 15 s for a late successor), then the reserve.
    expect(t.lambdaTimeoutS).toBeLessThanOrEqual(Math.ceil((t.coverMs + t.reserveMs) / 1000) + 5);
    expect(t.lambdaTimeoutS).toBeLessThanOrEqual(140);
  });
});
