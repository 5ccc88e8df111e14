/**
 * The scope check of every use case that names a project (register, submit
 * an import or an export): done first, so a refused request stores nothing
 * and makes no APIG call.
 */
import { projectAllowed, type Tenancy, UNSCOPED } from "../domain/tenancy";

/** The tenant may not name this project (`TENANT_PROJECTS`). */
export type ScopeFailure = { ok: false; reason: "forbidden_project"; project_id: string };

/** Null when `tenant` may name `projectId`, else the refusal to return. */
export function scopeFailure(tenancy: Tenancy | undefined, tenant: string, projectId: string): ScopeFailure | null {
  return projectAllowed(tenancy ?? UNSCOPED, tenant, projectId) ? null : { ok: false, reason: "forbidden_project", project_id: projectId };
}
