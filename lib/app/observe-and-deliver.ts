/**
 * Observe and deliver: the handling of one watch, shared by the poll loop and registration: apply
 * what APIG answered (the transition, persisted conditionally, re-read and
 * re-applied once when another writer won), then deliver what the outbox owes
 * under a lease.
 */
import { afterTry, applyTries, nextDeliveryAt } from "../domain/delivery";
import { type ApigObservation, transition, type TransitionRules } from "../domain/lifecycle";
import { isTerminal, type Watch } from "../domain/watch";
import { DEFAULT_CREDENTIAL_SET } from "../domain/tenancy";
import type { WatchDeps } from "./deps";
import { keepExport, notificationView } from "./exports";
import { keepImportLists } from "./import-lists";
import type { TaskRef } from "./ports";
import { recordDelivery, recordPoll } from "./telemetry";
import { withSubscriptions } from "./subscriptions";


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
  let tries = 0;
  let deliver = false;
  let from = watch.status;
  const r = await deps.store.update<Watch>(
    watch.tenant,
    watch.task_id,
    async (current) => {
      if (tries++ > 0) deps.log.info("transition_lost", { task_id: watch.task_id, tenant: watch.tenant });
      // Another writer finished it meanwhile: its answer stands.
      if (tries > 1 && isTerminal(current.status)) return { answer: current };
      // A watch turning terminal takes the targets of the subscriptions that match it, in the same write.
      const t = await withSubscriptions(deps.subscriptions, current, transition(current, { type: "observed", observation }, deps.clock(), deps.rules));
      if (!t.changed) return { answer: current };
      from = current.status;
      deliver = t.effects.some((e) => e.type === "deliver");
      // An export's whole document (an import's large lists) is stored before the watch that points at it.
      const next = await keepImportLists(deps, await keepExport(deps, t.next, observation));
      // The terminal write also takes the delivery lease, so no other writer
      // delivers these notifications while this one is about to.
      return { write: next, ...(deliver ? { leaseUntil: deps.clock().getTime() + deps.leaseMs } : {}) };
    },
    { current: watch, tries: 2 },
  );
  switch (r.kind) {
    case "not_found":
      return { watch: null, outcome: "gone" };
    case "busy":
      return { watch: r.latest, outcome: r.latest === null ? "gone" : "conflict" };
    case "answered":
      return { watch: r.answer, outcome: tries > 1 ? "conflict" : "unchanged" };
    case "written": {
      const saved = r.watch;
      if (saved.status !== from) {
        deps.log.info("transition", { task_id: watch.task_id, tenant: watch.tenant, from, to: saved.status });
      }
      return { watch: deliver ? await deliverLeased(deps, saved) : saved, outcome: "transitioned" };
    }
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

/**
 * Send every due pending delivery of a watch this writer holds the lease on,
 * then record the results. When another writer saved the watch meanwhile (a
 * redelivery), the results are laid onto its fresh copy: a try is neither
 * lost from the attempts log nor made again.
 */
async function deliverLeased(deps: WatchDeps, watch: Watch): Promise<Watch> {
  const now = deps.clock();
  const view = await notificationView(deps, watch);
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
  const r = await deps.store.update<null>(
    watch.tenant,
    watch.task_id,
    (current) => ({ write: { ...current, targets: applyTries(current.targets, watch.targets, targets) } }),
    { current: watch },
  );
  if (r.kind === "written") return r.watch;
  // Other writers kept winning, or the watch is gone: at-least-once allows the receiver to see this event again.
  deps.log.warn("delivery_record_lost", { task_id: watch.task_id, tenant: watch.tenant });
  return r.kind === "busy" && r.latest !== null ? r.latest : watch;
}
