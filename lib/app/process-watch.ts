/**
 * The handling of one watch that both the tick and a registration use: query
 * APIG, apply the transition, persist it conditionally, then deliver what the
 * outbox owes under a lease.
 */
import { shouldPoll, type BackoffRules } from "../domain/backoff";
import { afterTry, nextDeliveryAt } from "../domain/delivery";
import { transition, type TransitionRules } from "../domain/lifecycle";
import { isTerminal, type Watch } from "../domain/watch";
import { toView } from "../domain/watch-view";
import type { Logger, Sender, TaskQuery, WatchRepository } from "./ports";
import type { RegionHealth } from "./region-health";

export interface WatchDeps {
  store: WatchRepository;
  apig: TaskQuery;
  sender: Sender;
  clock: () => Date;
  random: () => number;
  log: Logger;
  rules: TransitionRules;
  backoff: BackoffRules;
  retryScheduleS: readonly number[];
  /** How long a writer owns a watch's deliveries; longer than one round of tries. */
  leaseMs: number;
  /** Region health, observed on every APIG answer; the poller persists it (`flush`) after each round. */
  health: Pick<RegionHealth, "flush">;
}

export type WatchOutcome =
  | "unchanged"
  | "transitioned"
  | "conflict"
  | "delivered"
  | "leased"
  | "backing_off";

/**
 * Handle one watch as read from the store: poll if unfinished, deliver if
 * deliveries are owed. Returns the freshest known watch and what happened.
 */
export async function processWatch(deps: WatchDeps, watch: Watch): Promise<{ watch: Watch; outcome: WatchOutcome }> {
  const now = deps.clock();
  if (isTerminal(watch.status)) return deliverOwed(deps, watch, now);
  if (!shouldPoll(watch, now, deps.backoff)) return { watch, outcome: "backing_off" };

  const observation = await deps.apig.queryTask({
    region: watch.region,
    projectId: watch.project_id,
    instanceId: watch.instance_id,
    taskId: watch.task_id,
  });
  const after = deps.clock();
  const t = transition(watch, { type: "observed", observation }, after, deps.rules);
  if (!t.changed) return { watch, outcome: "unchanged" };

  const deliver = t.effects.some((e) => e.type === "deliver");
  // The terminal write also takes the delivery lease, so no other tick
  // delivers these notifications while this one is about to.
  const saved = await deps.store.save(t.next, deliver ? after.getTime() + deps.leaseMs : undefined);
  if (saved === "conflict") {
    deps.log.info("transition_lost", { task_id: watch.task_id, to: t.next.status });
    return { watch, outcome: "conflict" };
  }
  if (t.next.status !== watch.status) {
    deps.log.info("transition", { task_id: watch.task_id, tenant: watch.tenant, from: watch.status, to: saved.status });
  }
  if (!deliver) return { watch: saved, outcome: "transitioned" };
  const delivered = await deliverLeased(deps, saved);
  return { watch: delivered, outcome: "transitioned" };
}

/** A terminal watch: claim its owed deliveries (if due and not leased) and send them. */
async function deliverOwed(
  deps: WatchDeps,
  watch: Watch,
  now: Date,
): Promise<{ watch: Watch; outcome: WatchOutcome }> {
  const due = nextDeliveryAt(watch);
  if (due === null || due > now.getTime()) return { watch, outcome: "unchanged" };
  if (watch.lease_until !== undefined && watch.lease_until > now.getTime()) return { watch, outcome: "leased" };
  const claimed = await deps.store.save(watch, now.getTime() + deps.leaseMs);
  if (claimed === "conflict") return { watch, outcome: "conflict" };
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
      const outcome = await deps.sender.send(t, view, eventId, now);
      const next = afterTry(t, outcome, deps.clock(), deps.retryScheduleS, deps.random);
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

