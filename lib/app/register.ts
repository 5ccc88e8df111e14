/**
 * Registering a watch: build it, ask APIG about the task at once, and store
 * it with that first answer, once per (tenant, task id).
 */
import { type Labels, sameLabels } from "../domain/labels";
import type { ImportCheckSummary } from "../domain/import-finding";
import { newTarget, sameTargetSpec, type TargetSpec } from "../domain/target";
import type { Watch } from "../domain/watch";
import { transition } from "../domain/lifecycle";
import type { WatchDeps } from "./deps";
import { queryApig } from "./observe-and-deliver";
import { keepExport } from "./exports";
import { keepImportLists } from "./import-lists";
import { withSubscriptions } from "./subscriptions";
import { scopeFailure, type ScopeFailure } from "./scope";
import { credentialSetOf, UNSCOPED } from "../domain/tenancy";

export type { TargetSpec };
export { newTarget };

/** What a registration asks for, already validated by the caller's adapter. */
export interface Registration {
  project_id: string;
  instance_id: string;
  task_id: string;
  region: string;
  targets: TargetSpec[];
  labels: Labels;
  timeout_s: number;
  /** What the import gate found, for a watch created by a submitted import. */
  import_check?: ImportCheckSummary;
  /** The OTC credential set to poll with; default: the tenant's (`TENANT_CREDENTIALS`). */
  credential_set?: string;
}

/**
 * What registering answers: the watch (new, or the same registration again),
 * or `conflict` when the task id is watched with another project, instance,
 * region, targets, labels or timeout (`fields` names each).
 */
export type RegisterResult = { ok: true; created: boolean; watch: Watch } | { ok: false; reason: "conflict"; fields: string[] } | ScopeFailure;

/** The fields in which a registration differs from the watch it would repeat; pure. */
export function conflictingFields(existing: Watch, r: Registration): string[] {
  const out: string[] = [];
  if (existing.project_id !== r.project_id) out.push("project_id");
  if (existing.instance_id !== r.instance_id) out.push("instance_id");
  if (existing.region !== r.region) out.push("region");
  // Targets a subscription added when the watch ended are not the registration's.
  const own = existing.targets.filter((t) => t.subscription === undefined);
  if (own.length !== r.targets.length || own.some((t, i) => !sameTargetSpec(t, r.targets[i]!))) out.push("notify");
  if (!sameLabels(existing.labels, r.labels)) out.push("labels");
  if (Date.parse(existing.deadline_at) - Date.parse(existing.created_at) !== r.timeout_s * 1000) out.push("timeout_s");
  return out;
}

/** The watch a registration creates at `now`. Pure. */
export function newWatch(tenant: string, r: Registration, now: Date): Watch {
  const at = now.toISOString();
  return {
    tenant,
    task_id: r.task_id,
    project_id: r.project_id,
    instance_id: r.instance_id,
    region: r.region,
    credential_set: r.credential_set ?? "default",
    status: "registered",
    task_type: null,
    created_at: at,
    updated_at: at,
    finished_at: null,
    deadline_at: new Date(now.getTime() + r.timeout_s * 1000).toISOString(),
    history: [{ status: "registered", at }],
    result: null,
    last_error: null,
    not_found_since: null,
    labels: r.labels,
    targets: r.targets.map((t, i) => newTarget(t, i, { tenant, labels: r.labels })),
    event_id: null,
    version: 0,
    ...(r.import_check ? { import_check: r.import_check } : {}),
  };
}

/**
 * Register a watch for `tenant`. APIG is asked first, so the stored watch
 * already holds its first answer: registration and that answer are one
 * write. A task that is already done is stored finished, its notifications
 * owed; the poller sends them within seconds (the API never sends). A
 * project outside the tenant's scope is refused before anything is read,
 * stored or asked.
 */
export async function registerWatch(deps: WatchDeps, tenant: string, r: Registration): Promise<RegisterResult> {
  const refused = scopeFailure(deps.tenancy, tenant, r.project_id);
  if (refused) return refused;
  const known = await deps.store.get(tenant, r.task_id);
  if (known) return sameTask(known, r);
  const credential_set = r.credential_set ?? credentialSetOf(deps.tenancy ?? UNSCOPED, tenant);
  const fresh = newWatch(tenant, { ...r, credential_set }, deps.clock());
  const observation = await queryApig(deps, fresh);
  const t = await withSubscriptions(deps.subscriptions, fresh, transition(fresh, { type: "observed", observation }, deps.clock(), deps.rules));
  // A task already done: an export's whole document (an import's large lists) is stored before the watch.
  const created = await deps.store.create(await keepImportLists(deps, await keepExport(deps, t.next, observation)));
  if (!created.created) return sameTask(created.existing, r);
  if (t.next.status !== "registered") {
    deps.log.info("transition", { task_id: r.task_id, tenant, from: "registered", to: t.next.status });
  }
  return { ok: true, created: true, watch: created.watch };
}

/** An existing watch answers a re-registration only if every field is the same. */
function sameTask(existing: Watch, r: Registration): RegisterResult {
  const fields = conflictingFields(existing, r);
  return fields.length > 0 ? { ok: false, reason: "conflict", fields } : { ok: true, created: false, watch: existing };
}
