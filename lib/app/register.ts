/**
 * Registering a watch: build it, store it once per (tenant, task id), and
 * make the first APIG query at once so a task that is already done is
 * reported without waiting for the poller.
 */
import { errorText } from "../domain/error-text";
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
  labels: Record<string, string>;
  timeout_s: number;
}

/** The same task id is already watched for another project or instance. */
export class RegistrationConflictError extends Error {
  override name = "RegistrationConflictError";
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
 * @throws {@link RegistrationConflictError} when it is watched for another project or instance
 */
export async function registerWatch(
  deps: WatchDeps,
  tenant: string,
  r: Registration,
): Promise<{ created: boolean; watch: Watch }> {
  const watch = newWatch(tenant, r, deps.clock());
  const created = await deps.store.create(watch);
  if (!created.created) {
    const e = created.existing;
    if (e.project_id !== watch.project_id || e.instance_id !== watch.instance_id) {
      throw new RegistrationConflictError("this task_id is already watched for another project_id or instance_id");
    }
    return { created: false, watch: e };
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
