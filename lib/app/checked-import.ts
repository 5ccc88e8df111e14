/**
 * An import through the gate: check the document against APIG's import rules,
 * refuse it when a rule is broken (nothing reaches APIG), otherwise upload the
 * document as checked (converted to 3.0.3 when it was 3.1) and watch the task
 * with what the check found.
 */
import { checkImportSpec } from "../domain/import-check";
import { type ImportCheck, summarizeCheck } from "../domain/import-finding";
import type { WatchDeps } from "./deps";
import type { TaskSubmitter } from "./ports";
import type { Registration } from "./register";
import { type ImportOptions, importSubmission, submitAndWatch, type SubmitAndWatchResult } from "./submit";

export type CheckedImportResult = { ok: false; reason: "spec_rejected"; check: ImportCheck } | SubmitAndWatchResult;

/** Whether an import creates an API group: APIG's `is_create_group` defaults to true when no group is named. */
export function createsGroup(body: { group_id?: string | undefined; is_create_group?: boolean | undefined }): boolean {
  return body.group_id === undefined && body.is_create_group !== false;
}

/**
 * Check `o.spec`, then (only when no error was found) submit the checked text
 * and register `watch` for the task APIG answers with.
 */
export async function submitCheckedImport(
  deps: WatchDeps & { submitter: TaskSubmitter },
  tenant: string,
  watch: Omit<Registration, "task_id" | "import_check">,
  o: ImportOptions,
): Promise<CheckedImportResult> {
  const { check, upload } = checkImportSpec(o.spec, { newGroup: createsGroup(o) });
  if (!check.ok || upload === null) {
    deps.log.info("spec_rejected", { tenant, errors: check.findings.filter((f) => f.severity === "error").length });
    return { ok: false, reason: "spec_rejected", check };
  }
  const where = { region: watch.region, projectId: watch.project_id, instanceId: watch.instance_id };
  // The file name follows the document as the caller sent it (JSON or YAML); the upload is its checked text.
  const submission = { ...importSubmission(where, o), spec: upload };
  return submitAndWatch(deps, tenant, (credentialSet) => deps.submitter.submitImport({ ...submission, credentialSet }), {
    ...watch,
    import_check: summarizeCheck(check),
  });
}
