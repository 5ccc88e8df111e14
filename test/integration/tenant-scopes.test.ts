/**
 * Tenants in their lane (PRODUCT.md "Tenants, scopes and credential sets"):
 * TENANT_PROJECTS refuses a project outside a tenant's list on each of
 * POST /tasks, /imports and /exports with 403 forbidden_project, before any
 * store write or APIG call (the simulator's request log and the DynamoDB
 * command counts prove both); TENANT_CREDENTIALS puts a tenant's watches on
 * its own credential set, recorded on the watch and used for every poll,
 * and /health names the set that fails.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { type Harness, KEYS, SIM_TOKEN, startHarness } from "../support/harness";
import { buildDeps } from "../../lib/platform/runtime";
import { loadConfig } from "../../lib/platform/config";
import { createHash } from "node:crypto";

const SPEC = readFileSync(join(import.meta.dirname, "..", "fixtures", "pets.yaml"), "utf8");
const TOKEN_B = "sim-token-of-team-b-0123456789";
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** One body per route that names a project, for the project given. */
const bodies = (project_id: string, id: string) => ({
  "/tasks": { project_id, instance_id: "inst1", task_id: id },
  "/imports": { project_id, instance_id: "inst1", spec: SPEC, is_create_group: true },
  "/exports": { project_id, instance_id: "inst1", group_id: "g1", env_id: "e1" },
});
const ROUTES = ["/tasks", "/imports", "/exports"] as const;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    env: {
      OTC_AUTH_TOKEN: "",
      // acme: proj1 only; "other" is missing from the map, so it may use no project.
      TENANT_PROJECTS: JSON.stringify({ acme: ["proj1"] }),
      OTC_CREDENTIALS: JSON.stringify({ default: { token: SIM_TOKEN }, "team-b": { token: TOKEN_B } }),
      TENANT_CREDENTIALS: JSON.stringify({ acme: "team-b" }),
    },
    sim: { autoTasks: true, auth: { tokens: [SIM_TOKEN, TOKEN_B] } },
  });
});
afterAll(async () => h?.close());

const writes = () => (h.commands.PutItemCommand ?? 0) + (h.commands.BatchWriteItemCommand ?? 0);

describe("TENANT_PROJECTS", () => {
  for (const route of ROUTES) {
    it(`${route}: a project outside the tenant's list is 403 forbidden_project, nothing stored, no APIG call`, async () => {
      const apigBefore = h.sim.requests.length;
      const writesBefore = writes();
      const listed = (await h.call("GET", "/tasks?limit=100")).json.items.length;
      const r = await h.call("POST", route, { body: bodies("proj-of-someone-else", `${route.slice(1)}-x`)[route] });
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe("forbidden_project");
      // A tenant missing from the map may use no project at all.
      const other = await h.call("POST", route, { key: KEYS.other, body: bodies("proj1", `${route.slice(1)}-o`)[route] });
      expect(other.status).toBe(403);
      expect(other.json.error.code).toBe("forbidden_project");
      expect(h.sim.requests.length).toBe(apigBefore);
      expect(writes()).toBe(writesBefore);
      expect((await h.call("GET", "/tasks?limit=100")).json.items.length).toBe(listed);
      expect((await h.call("GET", "/tasks?limit=100", { key: KEYS.other })).json.items.length).toBe(0);
    });

    it(`${route}: a project in the tenant's list goes through`, async () => {
      const r = await h.call("POST", route, { body: bodies("proj1", `${route.slice(1)}-ok`)[route] });
      expect(r.status, r.text).toBe(201);
    });
  }

  it('"*" allows every project', async () => {
    const deps = buildDeps(loadConfig({ ...baseEnv(), TENANT_PROJECTS: JSON.stringify({ acme: ["*"] }) }), { db: h.db });
    const { registerWatch } = await import("../../lib/app/register");
    const r = await registerWatch(deps, "acme", { project_id: "any-project", instance_id: "inst1", task_id: "star-1", region: "eu-de", targets: [], labels: {} as never, timeout_s: 3600 });
    expect(r).toMatchObject({ ok: true, created: true });
  });
});

/** The harness's environment, to build a second configuration on the same table and simulator. */
function baseEnv(): Record<string, string> {
  return {
    API_KEYS: `acme:${sha(KEYS.acme)},other:${sha(KEYS.other)}`,
    APIG_ENDPOINT: h.sim.url,
    IAM_ENDPOINT: h.sim.url,
    DYNAMODB_ENDPOINT: "http://127.0.0.1:9",
    TABLE_NAME: h.tableName,
    ALLOW_PRIVATE_TARGETS: "true",
    OTC_CREDENTIALS: JSON.stringify({ default: { token: SIM_TOKEN }, "team-b": { token: TOKEN_B } }),
  };
}

describe("credential sets", () => {
  const tokensFor = (taskId: string) =>
    h.sim.requests.filter((q) => q.path.endsWith(`/async-tasks/${taskId}`)).map((q) => String(q.headers["x-auth-token"]));

  it("a tenant's watch records its set (the name, not the secret) and every query uses that set's credentials", async () => {
    const r = await h.call("POST", "/tasks", { body: { project_id: "proj1", instance_id: "inst1", task_id: "set-b-1" } });
    expect(r.status).toBe(201);
    const item = (await h.db.send(new GetCommand({ TableName: h.tableName, Key: { pk: "T#acme", sk: "W#set-b-1" } }))).Item!;
    expect(item.credential_set).toBe("team-b");
    expect(JSON.stringify(item)).not.toContain(TOKEN_B);
    await h.tick();
    const used = tokensFor("set-b-1");
    expect(used.length).toBeGreaterThanOrEqual(2);
    expect(new Set(used)).toEqual(new Set([TOKEN_B]));
  });

  it("keeps polling with the recorded set after TENANT_CREDENTIALS moves the tenant (a re-read): only new watches move", async () => {
    await h.call("POST", "/tasks", { body: { project_id: "proj1", instance_id: "inst1", task_id: "set-b-2" } });
    // The configuration after a secrets re-read: acme now on `default`.
    const moved = buildDeps(loadConfig({ ...baseEnv(), TENANT_PROJECTS: JSON.stringify({ acme: ["proj1"] }) }), { db: h.db });
    const { taskRefOf } = await import("../../lib/app/observe-and-deliver");
    const before = tokensFor("set-b-2").length;
    await moved.apig.queryTask(taskRefOf((await moved.store.get("acme", "set-b-2"))!));
    await h.tick(moved);
    expect(tokensFor("set-b-2").length).toBeGreaterThan(before);
    expect(new Set(tokensFor("set-b-2"))).toEqual(new Set([TOKEN_B]));
    const { registerWatch } = await import("../../lib/app/register");
    await registerWatch(moved, "acme", { project_id: "proj1", instance_id: "inst1", task_id: "set-default-1", region: "eu-de", targets: [], labels: {} as never, timeout_s: 3600 });
    expect(new Set(tokensFor("set-default-1"))).toEqual(new Set([SIM_TOKEN]));
  });

  it("/health names the credential set and region whose credentials fail", async () => {
    // team-b's token revoked: the simulator no longer accepts it.
    const failing = buildDeps(
      loadConfig({ ...baseEnv(), OTC_CREDENTIALS: JSON.stringify({ default: { token: SIM_TOKEN }, "team-b": { token: "revoked-token-000000" } }) }),
      { db: h.db },
    );
    await h.call("POST", "/tasks", { body: { project_id: "proj1", instance_id: "inst1", task_id: "set-b-3" } });
    // One poll of that watch through the failing deployment's APIG port, then the poller's health flush.
    const { taskRefOf } = await import("../../lib/app/observe-and-deliver");
    const w = (await failing.store.get("acme", "set-b-3"))!;
    expect((await failing.apig.queryTask(taskRefOf(w))).ok).toBe(false);
    await failing.health.flush({ pollerRan: true });
    const health = await h.call("GET", "/health", { key: null });
    expect(health.json.checks).toMatchObject({
      regions: { "eu-de/team-b": { status: "degraded", region: "eu-de", credential_set: "team-b", http_status: 401 } },
    });
    const check = (health.json.checks.regions as Record<string, { message: string }>)["eu-de/team-b"]!;
    expect(check.message).toContain("credential set team-b");
    expect(health.text).not.toContain("revoked-token");
  });
});
