/**
 * Submit-and-watch: hand an import or export to APIG, then register a watch
 * on the task it answers with. Nothing is registered when APIG refuses or
 * cannot be reached.
 */
import type { Watch } from "../domain/watch";
import type { SubmitResult } from "./ports";
import type { WatchDeps } from "./process-watch";
import { type Registration, registerWatch } from "./register";

export type SubmitAndWatchResult =
  | { ok: true; watch: Watch }
  | Exclude<SubmitResult, { ok: true }>;

/**
 * Run `submit` (one APIG async-import or async-export call, retries included)
 * and, once APIG has answered with a task id, register `watch` for it.
 */
export async function submitAndWatch(
  deps: WatchDeps,
  tenant: string,
  submit: () => Promise<SubmitResult>,
  watch: Omit<Registration, "task_id">,
): Promise<SubmitAndWatchResult> {
  const r = await submit();
  if (!r.ok) {
    deps.log.warn("submit_failed", { tenant, project_id: watch.project_id, kind: r.kind, code: r.kind === "rejected" ? r.error_code : null });
    return r;
  }
  // A task id APIG has just issued is new, so this creates the watch (and
  // makes its first query at once, like any registration).
  const registered = await registerWatch(deps, tenant, { ...watch, task_id: r.taskId });
  deps.log.info("submitted", { tenant, task_id: r.taskId });
  return { ok: true, watch: registered.watch };
}
