/**
 * Registering a watch: build it, store it once per (tenant, task id), and
 * make the first APIG query at once so a task that is already done is
 * reported without waiting for the poller.
 */
import { errorText } from "../domain/error-text";
import { type Labels, sameLabels } from "../domain/labels";
import type { NotifyTarget } from "../domain/target";
import type { Watch } from "../domain/watch";
import { processWatch, type WatchDeps } from "./process-watch";

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
 * Register a watch for `tenant`.
 * @returns `created: false` with the existing watch when the task was already watched
 * @throws {@link RegistrationConflictError} when it is watched with different fields
 */
export async function registerWatch(
  deps: WatchDeps,
  tenant: string,
  r: Registration,
): Promise<{ created: boolean; watch: Watch }> {
  const watch = newWatch(tenant, r, deps.clock());
  const created = await deps.store.create(watch);
  if (!created.created) {
    const fields = conflictingFields(created.existing, r);
    if (fields.length > 0) throw new RegistrationConflictError(fields);
    return { created: false, watch: created.existing };
  }
  // Its failure must not fail the registration: the watch is stored and the
  // poller will carry on.
  try {
    const r = await processWatch(deps, created.watch);
    return { created: true, watch: r.watch };
  } catch (err) {
    deps.log.warn("first_poll_failed", {
      task_id: watch.task_id,
      tenant,
      error: errorText(err),
    });
    return { created: true, watch: created.watch };
  }
}
