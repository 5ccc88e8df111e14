/**
 * An import through the gate: check the document against APIG's import rules,
 * refuse it when a rule is broken (nothing reaches APIG), otherwise upload the
 * document as checked (converted to 3.0.3 when it was 3.1) and watch the task
 * with what the check found.
 */
import { checkImportSpec } from "../domain/import-check";
import { type ImportCheck, summarizeCheck } from "../domain/import-finding";
import type { SubmitResult } from "./ports";
import type { WatchDeps } from "./process-watch";
import type { Registration } from "./register";
import { submitAndWatch, type SubmitAndWatchResult } from "./submit";

export type CheckedImportResult = { ok: false; kind: "spec_rejected"; check: ImportCheck } | SubmitAndWatchResult;

/** Whether an import creates an API group: APIG's `is_create_group` defaults to true when no group is named. */
export function createsGroup(body: { group_id?: string | undefined; is_create_group?: boolean | undefined }): boolean {
  return body.group_id === undefined && body.is_create_group !== false;
}

/**
 * Check `spec`, then (only when no error was found) submit the checked text
 * with `submit` and register `watch` for the task APIG answers with.
 */
export async function submitCheckedImport(
  deps: WatchDeps,
  tenant: string,
  spec: { text: string; newGroup: boolean },
  submit: (upload: string) => Promise<SubmitResult>,
  watch: Omit<Registration, "task_id" | "import_check">,
): Promise<CheckedImportResult> {
  const { check, upload } = checkImportSpec(spec.text, { newGroup: spec.newGroup });
  if (!check.ok || upload === null) {
    deps.log.info("spec_rejected", { tenant, errors: check.findings.filter((f) => f.severity === "error").length });
    return { ok: false, kind: "spec_rejected", check };
  }
  return submitAndWatch(deps, tenant, () => submit(upload), { ...watch, import_check: summarizeCheck(check) });
}
