/**
 * Tenants, scopes and credential sets (PRODUCT.md "Tenants, scopes and
 * credential sets"): which APIG projects a tenant may name, and which OTC
 * credential set its watches are polled with. Pure.
 */

/** The set a tenant uses when `TENANT_CREDENTIALS` names none for it. */
export const DEFAULT_CREDENTIAL_SET = "default";

export interface Tenancy {
  /**
   * `TENANT_PROJECTS`: tenant -> the project ids it may name (`*`: any).
   * A tenant missing from the map may use no project. `null` when unset:
   * every tenant may name every project (unscoped).
   */
  projects: ReadonlyMap<string, readonly string[]> | null;
  /** `TENANT_CREDENTIALS`: tenant -> credential set name; others use {@link DEFAULT_CREDENTIAL_SET}. */
  credentials: ReadonlyMap<string, string>;
}

/** No scopes, one set: what a deployment without `TENANT_PROJECTS` / `TENANT_CREDENTIALS` has. */
export const UNSCOPED: Tenancy = { projects: null, credentials: new Map() };

/** Whether `tenant` may register or submit for `projectId`. */
export function projectAllowed(t: Tenancy, tenant: string, projectId: string): boolean {
  if (t.projects === null) return true;
  const allowed = t.projects.get(tenant);
  return allowed !== undefined && (allowed.includes("*") || allowed.includes(projectId));
}

/** The credential set `tenant`'s new watches are registered with. */
export function credentialSetOf(t: Tenancy, tenant: string): string {
  return t.credentials.get(tenant) ?? DEFAULT_CREDENTIAL_SET;
}
