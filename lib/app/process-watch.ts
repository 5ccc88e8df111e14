/**
 * The handling of one watch, shared by the poll loop and registration: apply
 * what APIG answered (the transition, persisted conditionally, re-read and
 * re-applied once when another writer won), then deliver what the outbox owes
 * under a lease.
 */
import { afterTry, nextDeliveryAt } from "../domain/delivery";
import { type ApigObservation, transition, type TransitionRules } from "../domain/lifecycle";
import { isTerminal, type Watch } from "../domain/watch";
import { toView } from "../domain/watch-view";
import type { Logger, Metrics, Sender, TaskQuery, TaskRef, WatchRepository } from "./ports";
import type { RegionHealth } from "./region-health";
import { DEFAULT_CREDENTIAL_SET, type Tenancy } from "../domain/tenancy";
import { recordDelivery, recordPoll } from "./telemetry";

export interface WatchDeps {
  store: WatchRepository;
  apig: TaskQuery;
  sender: Sender;
  clock: () => Date;
  random: () => number;
  log: Logger;
  metrics: Metrics;
  rules: TransitionRules;
  retryScheduleS: readonly number[];
  /** How long a writer owns a watch's deliveries; longer than one round of tries (see `platform/timing.ts`). */
  leaseMs: number;
  /** Region health, observed on every APIG answer; the poller persists it (`flush`) after each round. */
  health: Pick<RegionHealth, "flush">;
  /** Scopes and credential sets per tenant; absent: unscoped, every watch on `default`. */
  tenancy?: Tenancy;
}

export type WatchOutcome = "unchanged" | "transitioned" | "conflict" | "delivered" | "leased" | "gone";

export interface Processed {
  /** The freshest copy known, or null when the watch no longer exists. */
  watch: Watch | null;
  outcome: WatchOutcome;
}

/** The APIG task a watch follows. */
export function taskRefOf(w: Watch): TaskRef {
  return { region: w.region, credentialSet: w.credential_set ?? DEFAULT_CREDENTIAL_SET, projectId: w.project_id, instanceId: w.instance_id, taskId: w.task_id };
}

/** Ask APIG about a watch's task, counting the query and any fault for the metrics. */
export async function queryApig(deps: WatchDeps, watch: Watch): Promise<ApigObservation> {
  const observation = await deps.apig.queryTask(taskRefOf(watch));
  recordPoll(deps.metrics, watch.region, observation);
  if (!observation.ok && observation.code === "response_too_large") {
    deps.log.error("apig_answer_too_large", { tenant: watch.tenant, task_id: watch.task_id, region: watch.region, http_status: observation.http_status });
  }
  return observation;
}

/**
 * Apply one APIG answer to a watch and persist the change, if any. A poll that
 * changes nothing writes nothing. When another writer changed the watch since
 * `watch` was read, the stored copy is read again and the answer applied to
 * it, once: retrying the stale copy could never succeed.
 */
export async function applyObservation(deps: WatchDeps, watch: Watch, observation: ApigObservation): Promise<Processed> {
  let current = watch;
  for (let attempt = 0; ; attempt++) {
    const at = deps.clock();
    const t = transition(current, { type: "observed", observation }, at, deps.rules);
    if (!t.changed) return { watch: current, outcome: attempt === 0 ? "unchanged" : "conflict" };
    const deliver = t.effects.some((e) => e.type === "deliver");
    // The terminal write also takes the delivery lease, so no other writer
    // delivers these notifications while this one is about to.
    const saved = await deps.store.save(t.next, deliver ? at.getTime() + deps.leaseMs : undefined);
    if (saved !== "conflict") {
      if (t.next.status !== current.status) {
        deps.log.info("transition", { task_id: current.task_id, tenant: current.tenant, from: current.status, to: saved.status });
      }
      if (!deliver) return { watch: saved, outcome: "transitioned" };
      return { watch: await deliverLeased(deps, saved), outcome: "transitioned" };
    }
    deps.log.info("transition_lost", { task_id: current.task_id, tenant: current.tenant, to: t.next.status });
    const fresh = await deps.store.get(current.tenant, current.task_id);
    if (fresh === null) return { watch: null, outcome: "gone" };
    if (attempt >= 1 || isTerminal(fresh.status)) return { watch: fresh, outcome: "conflict" };
    current = fresh;
  }
}

/** A terminal watch: claim its owed deliveries (if due and not leased) and send them. */
export async function deliverOwed(deps: WatchDeps, watch: Watch, now: Date): Promise<Processed> {
  const due = nextDeliveryAt(watch);
  if (due === null || due > now.getTime()) return { watch, outcome: "unchanged" };
  if (watch.lease_until !== undefined && watch.lease_until > now.getTime()) return { watch, outcome: "leased" };
  const claimed = await deps.store.save(watch, now.getTime() + deps.leaseMs);
  // Someone else changed it (and may hold the lease): read it again rather than keep a stale copy.
  if (claimed === "conflict") return { watch: await deps.store.get(watch.tenant, watch.task_id), outcome: "conflict" };
  return { watch: await deliverLeased(deps, claimed), outcome: "delivered" };
}

/** Send every due pending delivery of a watch this writer holds the lease on, then record the results. */
async function deliverLeased(deps: WatchDeps, watch: Watch): Promise<Watch> {
  const now = deps.clock();
  const view = toView(watch);
  const eventId = watch.event_id ?? `msg_${watch.task_id}`;
  const targets = await Promise.all(
    watch.targets.map(async (t) => {
      if (t.state !== "pending" || t.next_attempt_at === null || t.next_attempt_at > now.getTime()) return t;
      const started = deps.clock().getTime();
      const outcome = await deps.sender.send(t, view, eventId, now);
      const ended = deps.clock();
      const next = afterTry(t, { ...outcome, duration_ms: ended.getTime() - started }, ended, deps.retryScheduleS, deps.random);
      recordDelivery(deps.metrics, watch, next, ended);
      const fields = { task_id: watch.task_id, tenant: watch.tenant, target: t.id, type: t.type, attempts: next.attempts };
      if (next.state === "delivered") deps.log.info("delivery_delivered", fields);
      else if (next.state === "dead") deps.log.error("delivery_dead", { ...fields, error: next.last_error });
      else deps.log.warn("delivery_retry", { ...fields, error: next.last_error });
      return next;
    }),
  );
  const updated: Watch = { ...watch, targets };
  const saved = await deps.store.save(updated);
  // Lost the lease meanwhile (a slow try): the other writer's record wins and
  // the receiver may see this event twice, which at-least-once allows.
  return saved === "conflict" ? watch : saved;
}

