/**
 * Registering a watch: build it, ask APIG about the task at once, and store
 * it with that first answer, once per (tenant, task id).
 */
import { type Labels, sameLabels } from "../domain/labels";
import type { NotifyTarget } from "../domain/target";
import type { Watch } from "../domain/watch";
import { transition } from "../domain/lifecycle";
import { queryApig, type WatchDeps } from "./process-watch";
import { checkProjectScope } from "./scope";
import { credentialSetOf, UNSCOPED } from "../domain/tenancy";

/** A target as the caller names it, before it gets its id and delivery state. */
export type TargetSpec = Pick<NotifyTarget, "type" | "url" | "secret">;

/** What a registration asks for, already validated by the caller's adapter. */
export interface Registration {
  project_id: string;
  instance_id: string;
  task_id: string;
  region: string;
  targets: TargetSpec[];
  labels: Labels;
  timeout_s: number;
  /** The OTC credential set to poll with; default: the tenant's (`TENANT_CREDENTIALS`). */
  credential_set?: string;
}

/** The same task id is already watched with another project, instance, region, targets, labels or timeout. */
export class RegistrationConflictError extends Error {
  override name = "RegistrationConflictError";
  constructor(
    /** The registration fields that differ: `project_id`, `instance_id`, `region`, `notify`, `labels`, `timeout_s`. */
    readonly fields: string[],
  ) {
    super(`this task_id is already watched with a different ${fields.join(", ")}`);
  }
}

/** The fields in which a registration differs from the watch it would repeat; pure. */
export function conflictingFields(existing: Watch, r: Registration): string[] {
  const out: string[] = [];
  if (existing.project_id !== r.project_id) out.push("project_id");
  if (existing.instance_id !== r.instance_id) out.push("instance_id");
  if (existing.region !== r.region) out.push("region");
  const same = (a: TargetSpec, b: TargetSpec) => a.type === b.type && a.url === b.url && a.secret === b.secret;
  if (existing.targets.length !== r.targets.length || existing.targets.some((t, i) => !same(t, r.targets[i]!))) out.push("notify");
  if (!sameLabels(existing.labels, r.labels)) out.push("labels");
  if (Date.parse(existing.deadline_at) - Date.parse(existing.created_at) !== r.timeout_s * 1000) out.push("timeout_s");
  return out;
}

/** A fresh target: nothing owed until the watch ends. */
export function newTarget(spec: TargetSpec, index: number): NotifyTarget {
  return {
    id: `t${index}`,
    type: spec.type,
    url: spec.url,
    ...(spec.secret !== undefined ? { secret: spec.secret } : {}),
    state: "pending",
    attempts: 0,
    last_error: null,
    next_attempt_at: null,
    delivered_at: null,
    attempts_log: [],
  };
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
    targets: r.targets.map(newTarget),
    event_id: null,
    version: 0,
  };
}

/**
 * Register a watch for `tenant`. APIG is asked first, so the stored watch
 * already holds its first answer: registration and that answer are one
 * write. A task that is already done is stored finished, its notifications
 * owed; the poller sends them within seconds (the API never sends).
 * @returns `created: false` with the existing watch when the task was already watched
 * @throws {@link RegistrationConflictError} when it is watched with different fields
 * @throws {@link ForbiddenProjectError} when the tenant may not name the project (nothing read, stored or asked)
 */
export async function registerWatch(
  deps: WatchDeps,
  tenant: string,
  r: Registration,
): Promise<{ created: boolean; watch: Watch }> {
  checkProjectScope(deps.tenancy, tenant, r.project_id);
  const known = await deps.store.get(tenant, r.task_id);
  if (known) return { created: false, watch: sameTask(known, r) };
  const credential_set = r.credential_set ?? credentialSetOf(deps.tenancy ?? UNSCOPED, tenant);
  const fresh = newWatch(tenant, { ...r, credential_set }, deps.clock());
  const observation = await queryApig(deps, fresh);
  const t = transition(fresh, { type: "observed", observation }, deps.clock(), deps.rules);
  const created = await deps.store.create(t.next);
  if (!created.created) return { created: false, watch: sameTask(created.existing, r) };
  if (t.next.status !== "registered") {
    deps.log.info("transition", { task_id: r.task_id, tenant, from: "registered", to: t.next.status });
  }
  return { created: true, watch: created.watch };
}

/** An existing watch answers a re-registration only if every field is the same. */
function sameTask(existing: Watch, r: Registration): Watch {
  const fields = conflictingFields(existing, r);
  if (fields.length > 0) throw new RegistrationConflictError(fields);
  return existing;
}
