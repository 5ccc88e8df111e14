/** The `GET /health` report from what the poller persisted: pure, no table. */
import { describe, expect, it } from "vitest";
import { healthReport } from "../../lib/app/health-report";

describe("health report", () => {
  it("a poller that has not run for 3 minutes is degraded", () => {
    const now = new Date("2026-11-28T12:00:00Z");
    expect(healthReport({ pollerRunAt: "2026-11-28T11:58:30Z", regions: [] }, now).status).toBe("ok");
    const stale = healthReport({ pollerRunAt: "2026-11-28T11:56:30Z", regions: [] }, now);
    expect(stale).toMatchObject({ status: "degraded", checks: { poller: { status: "degraded" } } });
    expect(healthReport({ pollerRunAt: null, regions: [] }, now).status).toBe("degraded");
  });
});
