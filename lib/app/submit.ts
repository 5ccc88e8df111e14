/**
 * Submit-and-watch: hand an import or export to APIG, then register a watch
 * on the task it answers with. Nothing is registered when APIG refuses or
 * cannot be reached.
 */
import type { Watch } from "../domain/watch";
import type { WatchDeps } from "./deps";
import type { ExportSubmission, ImportSubmission, SubmitResult, TaskSubmitter } from "./ports";
import { type Registration, registerWatch } from "./register";
import { type ScopeFailure, scopeFailure } from "./scope";
import { credentialSetOf, UNSCOPED } from "../domain/tenancy";

export type SubmitAndWatchResult =
  | { ok: true; watch: Watch }
  | { ok: false; reason: "apig_rejected"; http_status: number; error_code: string; error_msg: string }
  | { ok: false; reason: "apig_unavailable"; message: string }
  | { ok: false; reason: "conflict"; fields: string[] }
  | ScopeFailure;

/**
 * Run `submit` (one APIG async-import or async-export call, retries included,
 * with the tenant's credential set) and, once APIG has answered with a task
 * id, register `watch` for it, polled with the same set. A project outside
 * the tenant's scope is refused (`forbidden_project`) before APIG is called.
 */
export async function submitAndWatch(
  deps: WatchDeps,
  tenant: string,
  submit: (credentialSet: string) => Promise<SubmitResult>,
  watch: Omit<Registration, "task_id">,
): Promise<SubmitAndWatchResult> {
  const refused = scopeFailure(deps.tenancy, tenant, watch.project_id);
  if (refused) return refused;
  const credentialSet = watch.credential_set ?? credentialSetOf(deps.tenancy ?? UNSCOPED, tenant);
  const r = await submit(credentialSet);
  if (!r.ok) {
    deps.log.warn("submit_failed", { tenant, project_id: watch.project_id, kind: r.kind, code: r.kind === "rejected" ? r.error_code : null });
    if (r.kind === "rejected") return { ok: false, reason: "apig_rejected", http_status: r.http_status, error_code: r.error_code, error_msg: r.error_msg };
    return { ok: false, reason: "apig_unavailable", message: r.message };
  }
  // A task id APIG has just issued is new, so this creates the watch (and
  // makes its first query at once, like any registration).
  const registered = await registerWatch(deps, tenant, { ...watch, credential_set: credentialSet, task_id: r.taskId });
  if (!registered.ok) return registered;
  deps.log.info("submitted", { tenant, task_id: r.taskId });
  return { ok: true, watch: registered.watch };
}

/** What `POST /imports` asks of APIG besides the document, as the use case receives it. */
export interface ImportOptions {
  spec: string;
  file_name?: string | undefined;
  group_id?: string | undefined;
  is_create_group?: boolean | undefined;
  extend_mode?: string | undefined;
  api_mode?: string | undefined;
  simple_mode?: boolean | undefined;
  mock_mode?: boolean | undefined;
}

/** The async-import submission: APIG's form fields are only those the caller set, so APIG's defaults apply to the rest. Pure. */
export function importSubmission(where: Omit<ImportSubmission, "fileName" | "spec" | "fields">, o: ImportOptions): ImportSubmission {
  const fields: Record<string, string> = {};
  for (const k of ["is_create_group", "group_id", "extend_mode", "simple_mode", "mock_mode", "api_mode"] as const) {
    const v = o[k];
    if (v !== undefined) fields[k] = String(v);
  }
  // A document that starts with `{` is JSON, anything else is taken for YAML.
  const fileName = o.file_name ?? (o.spec.trimStart().startsWith("{") ? "openapi.json" : "openapi.yaml");
  return { ...where, fileName, spec: o.spec, fields };
}

/** What `POST /exports` asks of APIG. */
export interface ExportOptions {
  group_id: string;
  env_id: string;
  define?: string | undefined;
  type?: string | undefined;
  version?: string | undefined;
  apis?: string[] | undefined;
  oas_version?: string | undefined;
}

/** The async-export submission: APIG's JSON body with only the fields the caller set. Pure. */
export function exportSubmission(where: Omit<ExportSubmission, "body" | "oasVersion">, o: ExportOptions): ExportSubmission {
  const body: Record<string, unknown> = { env_id: o.env_id, group_id: o.group_id };
  for (const k of ["define", "type", "version", "apis"] as const) if (o[k] !== undefined) body[k] = o[k];
  return { ...where, body, ...(o.oas_version !== undefined ? { oasVersion: o.oas_version } : {}) };
}

/** Submit an export and watch its task. */
export function submitExport(deps: WatchDeps & { submitter: TaskSubmitter }, tenant: string, watch: Omit<Registration, "task_id">, o: ExportOptions) {
  const where = { region: watch.region, projectId: watch.project_id, instanceId: watch.instance_id };
  return submitAndWatch(deps, tenant, (credentialSet) => deps.submitter.submitExport(exportSubmission({ ...where, credentialSet }, o)), watch);
}
