/**
 * Submit-and-watch: hand an import or export to APIG, then register a watch
 * on the task it answers with. Nothing is registered when APIG refuses or
 * cannot be reached.
 */
import type { Watch } from "../domain/watch";
import type { SubmitResult } from "./ports";
import type { WatchDeps } from "./process-watch";
import { type Registration, registerWatch } from "./register";
import { checkProjectScope } from "./scope";
import { credentialSetOf, UNSCOPED } from "../domain/tenancy";

export type SubmitAndWatchResult =
  | { ok: true; watch: Watch }
  | Exclude<SubmitResult, { ok: true }>;

/**
 * Run `submit` (one APIG async-import or async-export call, retries included,
 * with the tenant's credential set) and, once APIG has answered with a task
 * id, register `watch` for it, polled with the same set.
 * @throws {@link ForbiddenProjectError} when the tenant may not name the project (APIG is not called)
 */
export async function submitAndWatch(
  deps: WatchDeps,
  tenant: string,
  submit: (credentialSet: string) => Promise<SubmitResult>,
  watch: Omit<Registration, "task_id">,
): Promise<SubmitAndWatchResult> {
  checkProjectScope(deps.tenancy, tenant, watch.project_id);
  const credentialSet = watch.credential_set ?? credentialSetOf(deps.tenancy ?? UNSCOPED, tenant);
  const r = await submit(credentialSet);
  if (!r.ok) {
    deps.log.warn("submit_failed", { tenant, project_id: watch.project_id, kind: r.kind, code: r.kind === "rejected" ? r.error_code : null });
    return r;
  }
  // A task id APIG has just issued is new, so this creates the watch (and
  // makes its first query at once, like any registration).
  const registered = await registerWatch(deps, tenant, { ...watch, credential_set: credentialSet, task_id: r.taskId });
  deps.log.info("submitted", { tenant, task_id: r.taskId });
  return { ok: true, watch: registered.watch };
}
