/**
 * Registering a watch: build it, ask APIG about the task at once, and store
 * it with that first answer, once per (tenant, task id).
 */
import type { NotifyTarget } from "../domain/target";
import type { Watch } from "../domain/watch";
import { transition } from "../domain/lifecycle";
import { queryApig, type WatchDeps } from "./process-watch";

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
 * Register a watch for `tenant`. APIG is asked first, so the stored watch
 * already holds its first answer: registration and that answer are one
 * write. A task that is already done is stored finished, its notifications
 * owed; the poller sends them within seconds (the API never sends).
 * @returns `created: false` with the existing watch when the task was already watched
 * @throws {@link RegistrationConflictError} when it is watched for another project or instance
 */
export async function registerWatch(
  deps: WatchDeps,
  tenant: string,
  r: Registration,
): Promise<{ created: boolean; watch: Watch }> {
  const known = await deps.store.get(tenant, r.task_id);
  if (known) return { created: false, watch: sameTask(known, r) };
  const fresh = newWatch(tenant, r, deps.clock());
  const observation = await queryApig(deps, fresh);
  const t = transition(fresh, { type: "observed", observation }, deps.clock(), deps.rules);
  const created = await deps.store.create(t.next);
  if (!created.created) return { created: false, watch: sameTask(created.existing, r) };
  if (t.next.status !== "registered") {
    deps.log.info("transition", { task_id: r.task_id, tenant, from: "registered", to: t.next.status });
  }
  return { created: true, watch: created.watch };
}

/** An existing watch answers a re-registration only if it follows the same task. */
function sameTask(existing: Watch, r: Registration): Watch {
  if (existing.project_id !== r.project_id || existing.instance_id !== r.instance_id) {
    throw new RegistrationConflictError("this task_id is already watched for another project_id or instance_id");
  }
  return existing;
}
