/**
 * OTC_CREDENTIALS as named sets, TENANT_PROJECTS and TENANT_CREDENTIALS: the
 * configuration they give, backward compatibility with one set and the
 * separate variables, and one line naming the variable for every malformed
 * value (never the value).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/platform/config";
import { credentialSetOf, projectAllowed } from "../../lib/domain/tenancy";
import { scopeFailure } from "../../lib/app/scope";
import { errorOf } from "../support/config-error";

const keys = (...tenants: string[]) => tenants.map((t) => `${t}:${createHash("sha256").update(t).digest("hex")}`).join(",");

describe("credential sets", () => {
  it("one set (OTC_CREDENTIALS or the separate variables) is `default`, as before", () => {
    expect([...loadConfig({ OTC_CREDENTIALS: '{"token":"T"}' }).credentials]).toEqual([["default", { method: "token", token: "T" }]]);
    const c = loadConfig({ OTC_ACCESS_KEY: "AK", OTC_SECRET_KEY: "SK" });
    expect([...c.credentials]).toEqual([["default", { method: "aksk", accessKey: "AK", secretKey: "SK" }]]);
    expect(c.auth).toEqual({ method: "aksk", accessKey: "AK", secretKey: "SK" });
    expect(loadConfig({}).credentials.get("default")).toEqual({ method: "none" });
  });

  it("an object of named sets gives each by name", () => {
    const c = loadConfig({
      OTC_CREDENTIALS: JSON.stringify({ default: { token: "T" }, "team-b": { access_key: "AK", secret_key: "SK" } }),
      TENANT_CREDENTIALS: JSON.stringify({ ops: "team-b" }),
    });
    expect(c.credentials.get("team-b")).toEqual({ method: "aksk", accessKey: "AK", secretKey: "SK" });
    expect(c.auth).toEqual({ method: "token", token: "T" });
    expect(credentialSetOf(c.tenancy, "ops")).toBe("team-b");
    expect(credentialSetOf(c.tenancy, "ci")).toBe("default");
  });

  it("sets without `default` are fine when every API_KEYS tenant is mapped, an error naming the unmapped ones otherwise", () => {
    const sets = JSON.stringify({ a: { token: "T" }, b: { token: "U" } });
    expect(loadConfig({ OTC_CREDENTIALS: sets, API_KEYS: keys("ci"), TENANT_CREDENTIALS: '{"ci":"a"}' }).credentials.size).toBe(2);
    const e = errorOf({ OTC_CREDENTIALS: sets, API_KEYS: keys("ci", "ops"), TENANT_CREDENTIALS: '{"ci":"a"}' });
    expect(e.issues).toEqual([{ variable: "OTC_CREDENTIALS", message: expect.stringContaining("ops") }]);
  });
});

describe("TENANT_PROJECTS", () => {
  it("unset: every tenant may use every project (unscoped)", () => {
    const c = loadConfig({});
    expect(c.tenancy.projects).toBeNull();
    expect(projectAllowed(c.tenancy, "anyone", "any-project")).toBe(true);
  });

  it("set: listed projects, `*` for any, nothing for a tenant missing from the map", () => {
    const c = loadConfig({ TENANT_PROJECTS: JSON.stringify({ ci: ["05a8", "1b2c"], ops: ["*"] }) });
    expect(projectAllowed(c.tenancy, "ci", "05a8")).toBe(true);
    expect(projectAllowed(c.tenancy, "ci", "ffff")).toBe(false);
    expect(projectAllowed(c.tenancy, "ops", "ffff")).toBe(true);
    expect(projectAllowed(c.tenancy, "dev", "05a8")).toBe(false);
    expect(scopeFailure(c.tenancy, "ci", "ffff")).toEqual({ ok: false, reason: "forbidden_project", project_id: "ffff" });
    expect(scopeFailure(c.tenancy, "ci", "05a8")).toBeNull();
    expect(scopeFailure(undefined, "ci", "ffff")).toBeNull();
  });
});

describe("a malformed value stops the start with one line naming its variable, never the value", () => {
  it.each([
    ["TENANT_PROJECTS", { TENANT_PROJECTS: "{ci: [secret-ish]}" }],
    ["TENANT_PROJECTS", { TENANT_PROJECTS: '{"ci": "05a8-secret-ish"}' }],
    ["TENANT_PROJECTS", { TENANT_PROJECTS: '["05a8-secret-ish"]' }],
    ["TENANT_CREDENTIALS", { TENANT_CREDENTIALS: '{"ci": ["secret-ish"]}' }],
    ["TENANT_CREDENTIALS", { TENANT_CREDENTIALS: "ci=secret-ish" }],
    ["TENANT_CREDENTIALS", { TENANT_CREDENTIALS: '{"ci": "no-such-set"}' }],
    ["OTC_CREDENTIALS", { OTC_CREDENTIALS: '{"default": {"token": "T"}, "b": {"access_key": "secret-ish"}}' }],
    ["OTC_CREDENTIALS", { OTC_CREDENTIALS: '{"default": {"token": "T"}, "bad name!": {"token": "secret-ish"}}' }],
    ["OTC_CREDENTIALS", { OTC_CREDENTIALS: "{}" }],
    ["OTC_CREDENTIALS", { OTC_CREDENTIALS: '"secret-ish"' }],
  ])("%s: %o", (variable, env) => {
    const e = errorOf(env);
    expect(e.issues.map((i) => i.variable)).toEqual([variable]);
    expect(e.message.split("\n").filter((l) => l.trim().startsWith(variable))).toHaveLength(1);
    expect(e.message).not.toContain("secret-ish");
  });
});
