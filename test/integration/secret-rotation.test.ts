/**
 * Rotation without redeploy: the Lambda bootstrap re-reads the SSM secrets
 * after SECRETS_TTL_S, and at once when OTC refuses the credentials in use.
 * A fake SSM (our port) and the APIG simulator on loopback.
 */
import { createHash } from "node:crypto";
import type { GetParametersByPathCommand } from "@aws-sdk/client-ssm";
import { afterEach, describe, expect, it } from "vitest";
import { type ApigSimulator, startApigSimulator } from "../../infra/dev/apig-simulator";
import { authenticate } from "../../lib/http/auth";
import { lazyDeps, type Telemetry } from "../../lib/platform/bootstrap";
import { createLogger } from "../../lib/aws/log";
import { nullMetrics } from "../../lib/aws/metrics";
import type { SsmLike } from "../../lib/aws/ssm-env";

const PREFIX = "/apig-taskwatch/test/";
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** SSM holding `params` (changeable between reads), counting reads; `fail` makes the next reads throw. */
function fakeSsm(params: Record<string, string>) {
  const state = { params, reads: 0, fail: false };
  const client: SsmLike = {
    send: (async (_cmd: GetParametersByPathCommand) => {
      state.reads++;
      if (state.fail) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
      return { Parameters: Object.entries(state.params).map(([k, v]) => ({ Name: PREFIX + k, Value: v })) };
    }) as SsmLike["send"],
  };
  return { state, factory: () => client };
}

function telemetry(lines: string[]): Telemetry {
  return { log: createLogger({ serviceName: "test", sink: (l) => lines.push(l) }), metrics: { ...nullMetrics, flush() {} } };
}

const baseEnv = (extra: Record<string, string> = {}) => ({
  SSM_PREFIX: PREFIX,
  TABLE_NAME: "unused",
  DYNAMODB_ENDPOINT: "http://127.0.0.1:9",
  ALLOW_PRIVATE_TARGETS: "true",
  ...extra,
});

let sim: ApigSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe("secrets re-read after their TTL", () => {
  it("takes a rotated API key after SECRETS_TTL_S, not before, and keeps an overlapping old key working while both are listed", async () => {
    const ssm = fakeSsm({ API_KEYS: `ci:${sha("key-a")}` });
    let now = 1_000_000;
    const deps = lazyDeps(baseEnv({ SECRETS_TTL_S: "300" }), { ssm: ssm.factory, now: () => now, telemetry: telemetry([]) });
    const tenantWith = async (key: string) => {
      const d = await deps();
      if (!d.ok) throw d.error;
      try {
        return authenticate(d.deps.apiKeys, `Bearer ${key}`);
      } catch {
        return null;
      }
    };
    expect(await tenantWith("key-a")).toBe("ci");
    expect(await tenantWith("key-b")).toBe(null);

    // Step 1 of a zero-downtime rotation: both keys listed.
    ssm.state.params.API_KEYS = `ci:${sha("key-a")},ci:${sha("key-b")}`;
    now += 299_000;
    expect(await tenantWith("key-b")).toBe(null);
    expect(ssm.state.reads).toBe(1);
    now += 2_000;
    expect(await tenantWith("key-b")).toBe("ci");
    expect(await tenantWith("key-a")).toBe("ci");

    // Step 2: the old key removed.
    ssm.state.params.API_KEYS = `ci:${sha("key-b")}`;
    now += 301_000;
    expect(await tenantWith("key-a")).toBe(null);
    expect(await tenantWith("key-b")).toBe("ci");
    expect(ssm.state.reads).toBe(3);
  });

  it("keeps serving with the secrets it has when a re-read fails or brings an invalid value, and says so", async () => {
    const ssm = fakeSsm({ API_KEYS: `ci:${sha("key-a")}` });
    const lines: string[] = [];
    let now = 0;
    const deps = lazyDeps(baseEnv(), { ssm: ssm.factory, now: () => now, telemetry: telemetry(lines) });
    expect((await deps()).ok).toBe(true);
    ssm.state.fail = true;
    now += 301_000;
    const d = await deps();
    expect(d.ok && authenticate(d.deps.apiKeys, "Bearer key-a")).toBe("ci");
    ssm.state.fail = false;
    ssm.state.params.API_KEYS = "not a key list";
    now += 301_000;
    const e = await deps();
    expect(e.ok && authenticate(e.deps.apiKeys, "Bearer key-a")).toBe("ci");
    const events = lines.map((l) => JSON.parse(l) as { message: string; error: string });
    expect(events.map((l) => l.message)).toEqual(["secrets_reload_failed", "secrets_reload_failed"]);
    expect(events[1]!.error).toContain("API_KEYS");
    expect(lines.join("")).not.toContain("not a key list");
  });
});

describe("secrets re-read when OTC refuses the credentials", () => {
  it("after a 401 with the old AK/SK, reads OTC_CREDENTIALS again at once and retries with the new pair", async () => {
    sim = await startApigSimulator({ autoTasks: true, auth: { accessKey: "AK-NEW", secretKey: "SK-NEW" } });
    const ssm = fakeSsm({ OTC_CREDENTIALS: JSON.stringify({ access_key: "AK-OLD", secret_key: "SK-OLD" }) });
    const lines: string[] = [];
    let now = 0;
    const deps = lazyDeps(baseEnv({ APIG_ENDPOINT: sim.url }), { ssm: ssm.factory, now: () => now, telemetry: telemetry(lines) });
    const d = await deps();
    if (!d.ok) throw d.error;
    const ref = { region: "eu-de", projectId: "p1", instanceId: "i1", taskId: "rotated-1" };

    // Not rotated yet in SSM: APIG refuses, and one forced re-read finds nothing new.
    const refused = await d.deps.apig.queryTask(ref);
    expect(refused).toMatchObject({ ok: false, http_status: 401 });
    expect(ssm.state.reads).toBe(2);

    // Rotated in SSM; within the forced-read interval nothing is re-read (a wrong key fails every poll).
    ssm.state.params.OTC_CREDENTIALS = JSON.stringify({ access_key: "AK-NEW", secret_key: "SK-NEW" });
    expect(await d.deps.apig.queryTask(ref)).toMatchObject({ ok: false, http_status: 401 });
    expect(ssm.state.reads).toBe(2);

    // Past it, well before the TTL: the 401 itself brings the new pair in, and the same query succeeds.
    now += 31_000;
    const ok = await d.deps.apig.queryTask(ref);
    expect(ok).toMatchObject({ ok: true });
    expect(ssm.state.reads).toBe(3);
    expect(lines.map((l) => JSON.parse(l).message)).toContain("secrets_reloaded");
    // The deps handed out before keep working; the next invocation gets the new configuration.
    const again = await deps();
    expect(again.ok && again.config.auth).toEqual({ method: "aksk", accessKey: "AK-NEW", secretKey: "SK-NEW" });
    expect(lines.join("")).not.toMatch(/SK-OLD|SK-NEW/);
  });

  it("after IAM refuses a rotated password, reads the secrets again and gets a token with the new one", async () => {
    sim = await startApigSimulator({ autoTasks: true, auth: { users: [{ domain: "dom", name: "svc", password: "new-pass" }] } });
    const creds = (password: string) => JSON.stringify({ username: "svc", password, domain_name: "dom" });
    const ssm = fakeSsm({ OTC_CREDENTIALS: creds("old-pass") });
    let now = 0;
    const deps = lazyDeps(baseEnv({ APIG_ENDPOINT: sim.url, IAM_ENDPOINT: sim.url }), { ssm: ssm.factory, now: () => now, telemetry: telemetry([]) });
    const d = await deps();
    if (!d.ok) throw d.error;
    ssm.state.params.OTC_CREDENTIALS = creds("new-pass");
    const r = await d.deps.apig.queryTask({ region: "eu-de", projectId: "p1", instanceId: "i1", taskId: "rotated-2" });
    expect(r).toMatchObject({ ok: true });
    expect(ssm.state.reads).toBe(2);
  });
});
