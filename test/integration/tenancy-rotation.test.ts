/**
 * A tenant's scope and credential set change at the next secrets re-read
 * (SECRETS_TTL_S), without a redeploy: TENANT_PROJECTS and TENANT_CREDENTIALS
 * come from SSM with the keys (a fake SSM, as in secret-rotation.test.ts).
 */
import { createHash } from "node:crypto";
import type { GetParametersByPathCommand } from "@aws-sdk/client-ssm";
import { describe, expect, it } from "vitest";
import { lazyDeps } from "../../lib/platform/bootstrap";
import { createLogger } from "../../lib/aws/log";
import { nullMetrics } from "../../lib/aws/metrics";
import type { SsmLike } from "../../lib/aws/ssm-env";
import { credentialSetOf, projectAllowed, UNSCOPED } from "../../lib/domain/tenancy";

const PREFIX = "/apig-taskwatch/test/";
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("scopes and sets at the secrets re-read", () => {
  it("TENANT_PROJECTS and TENANT_CREDENTIALS from SSM take effect after SECRETS_TTL_S, not before", async () => {
    const params: Record<string, string> = {
      API_KEYS: `ci:${sha("k")}`,
      OTC_CREDENTIALS: JSON.stringify({ default: { token: "T" }, "team-b": { token: "U" } }),
      TENANT_PROJECTS: JSON.stringify({ ci: ["p1"] }),
    };
    const ssm: SsmLike = {
      send: (async (_c: GetParametersByPathCommand) => ({ Parameters: Object.entries(params).map(([k, v]) => ({ Name: PREFIX + k, Value: v })) })) as SsmLike["send"],
    };
    let now = 1_000_000;
    const deps = lazyDeps(
      { SSM_PREFIX: PREFIX, TABLE_NAME: "unused", DYNAMODB_ENDPOINT: "http://127.0.0.1:9", SECRETS_TTL_S: "60" },
      { ssm: () => ssm, now: () => now, telemetry: { log: createLogger({ serviceName: "t", sink: () => {} }), metrics: { ...nullMetrics, flush() {} } } },
    );
    const tenancy = async () => {
      const d = await deps();
      if (!d.ok) throw d.error;
      return d.deps.tenancy ?? UNSCOPED;
    };
    expect(projectAllowed(await tenancy(), "ci", "p1")).toBe(true);
    expect(projectAllowed(await tenancy(), "ci", "p2")).toBe(false);
    expect(credentialSetOf(await tenancy(), "ci")).toBe("default");

    params.TENANT_PROJECTS = JSON.stringify({ ci: ["p2"] });
    params.TENANT_CREDENTIALS = JSON.stringify({ ci: "team-b" });
    now += 59_000;
    expect(projectAllowed(await tenancy(), "ci", "p2")).toBe(false);
    now += 2_000;
    expect(projectAllowed(await tenancy(), "ci", "p2")).toBe(true);
    expect(projectAllowed(await tenancy(), "ci", "p1")).toBe(false);
    expect(credentialSetOf(await tenancy(), "ci")).toBe("team-b");

    // A malformed re-read keeps what worked (and is logged), rather than opening every project.
    params.TENANT_PROJECTS = "{not json";
    now += 61_000;
    expect(projectAllowed(await tenancy(), "ci", "p2")).toBe(true);
    expect(projectAllowed(await tenancy(), "ci", "p1")).toBe(false);
  });
});
