import { describe, expect, it } from "vitest";
import { cachedHealth } from "../../lib/app/health-report";
import { logAwsError } from "../../lib/aws/aws-error";

const denied = Object.assign(new Error("User: arn:aws:sts::1:assumed-role/api is not authorized to perform: dynamodb:Query"), { name: "AccessDeniedException" });

describe("a refused AWS call is logged as a missing grant, not as an outage", () => {
  it("GET /health's failed read reaches the log as aws_access_denied, naming what was attempted, and the route answers unavailable", async () => {
    const lines: Array<[string, Record<string, unknown> | undefined]> = [];
    const log = { error: (event: string, fields?: Record<string, unknown>) => lines.push([event, fields]) };
    const store = { read: () => Promise.reject(denied), putRegion: async () => {}, putPollerRun: async () => {} };
    const health = cachedHealth(store, () => new Date(0), 1000, (err) => logAwsError(log, "health_read_failed", err));
    expect(await health()).toBeNull();
    expect(lines).toEqual([["aws_access_denied", expect.objectContaining({ during: "health_read_failed", aws_error: "AccessDeniedException" })]]);
  });

  it("any other failure keeps its own event", () => {
    const lines: string[] = [];
    logAwsError({ error: (e) => lines.push(e) }, "health_read_failed", Object.assign(new Error("x"), { name: "ResourceNotFoundException" }));
    expect(lines).toEqual(["health_read_failed"]);
  });
});
