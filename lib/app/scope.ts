/**
 * The scope check of every use case that names a project (register, submit
 * an import or an export): done first, so a refused request stores nothing
 * and makes no APIG call.
 */
import { projectAllowed, type Tenancy, UNSCOPED } from "../domain/tenancy";

/** The tenant may not name this project (`TENANT_PROJECTS`). */
export class ForbiddenProjectError extends Error {
  override name = "ForbiddenProjectError";
  readonly code = "forbidden_project";
  constructor(readonly projectId: string) {
    super(`this API key may not use project ${projectId.slice(0, 64)}`);
  }
}

/** @throws {@link ForbiddenProjectError} when `tenant` may not name `projectId` */
export function checkProjectScope(tenancy: Tenancy | undefined, tenant: string, projectId: string): void {
  if (!projectAllowed(tenancy ?? UNSCOPED, tenant, projectId)) throw new ForbiddenProjectError(projectId);
}
