/**
 * One poller tick, and the handling of one watch that both the tick and a
 * registration use: query APIG, apply the transition, persist it
 * conditionally, then deliver what the outbox owes.
 */
import type { TaskRef } from "../otc/apig-client";
import type { Logger } from "../platform/log";
import { afterTry, type Sender } from "../notify/sender";
import { nextDeliveryAt, type StoredWatch, type WatchStore } from "../store/watch-repository";
import {
  type ApigObservation,
  type BackoffRules,
  isTerminal,
  shouldPoll,
  transition,
  type TransitionRules,
  type Watch,
} from "../domain/watch";
import { toView } from "../domain/watch-view";

/** Anything that can answer an APIG task query (the real client or a test double). */
export interface TaskQuery {
  queryTask(ref: TaskRef): Promise<ApigObservation>;
}

export interface WatchDeps {
  store: WatchStore;
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
export async function processWatch(deps: WatchDeps, watch: StoredWatch): Promise<{ watch: StoredWatch; outcome: WatchOutcome }> {
  const now = deps.clock();
  if (isTerminal(watch.status)) return deliverOwed(deps, watch, now);
  if (!shouldPoll(watch, now, deps.backoff)) return { watch, outcome: "backing_off" };

  const observation = await deps.apig.queryTask({
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
  watch: StoredWatch,
  now: Date,
): Promise<{ watch: StoredWatch; outcome: WatchOutcome }> {
  const due = nextDeliveryAt(watch);
  if (due === null || due > now.getTime()) return { watch, outcome: "unchanged" };
  if (watch.lease_until !== undefined && watch.lease_until > now.getTime()) return { watch, outcome: "leased" };
  const claimed = await deps.store.save(watch, now.getTime() + deps.leaseMs);
  if (claimed === "conflict") return { watch, outcome: "conflict" };
  return { watch: await deliverLeased(deps, claimed), outcome: "delivered" };
}

/** Send every due pending delivery of a watch this writer holds the lease on, then record the results. */
async function deliverLeased(deps: WatchDeps, watch: StoredWatch): Promise<StoredWatch> {
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

export interface TickOptions {
  /** Milliseconds left before the Lambda is stopped. */
  remainingMs: () => number;
  /** Stop taking new watches when less than this is left. */
  reserveMs: number;
  concurrency: number;
  /** Most watches one tick takes from each shard. */
  batchSize: number;
}

export interface TickSummary {
  due: number;
  processed: number;
  transitioned: number;
  conflicts: number;
  errors: number;
  /** Due watches left for the next tick because time ran out. */
  deferred: number;
  /**
   * How far behind the poller is, in seconds: the age of the oldest owed
   * delivery, or of the oldest unfinished watch this tick had no time for.
   * Near 0 while the poller keeps up; an alarm on it catches a backlog.
   */
  oldestDueAgeS: number;
}

/** One scheduled tick: every shard's due watches, with bounded concurrency. */
export async function runTick(deps: WatchDeps, opts: TickOptions): Promise<TickSummary> {
  const start = deps.clock().getTime();
  const summary: TickSummary = { due: 0, processed: 0, transitioned: 0, conflicts: 0, errors: 0, deferred: 0, oldestDueAgeS: 0 };
  const found: StoredWatch[] = [];
  for (const shard of deps.store.shards()) found.push(...(await deps.store.due(shard, start, opts.batchSize)));
  // Owed notifications first. Then the unfinished watches in random order:
  // their due_at does not move on a poll without news (that would be a
  // write), so a fixed order would, under overload, starve the same watches
  // tick after tick.
  const queue = [...found.filter((w) => isTerminal(w.status)), ...shuffle(found.filter((w) => !isTerminal(w.status)), deps.random)];
  summary.due = queue.length;

  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      if (opts.remainingMs() < opts.reserveMs) return;
      const w = queue[next++]!;
      try {
        const r = await processWatch(deps, w);
        summary.processed++;
        if (r.outcome === "transitioned") summary.transitioned++;
        if (r.outcome === "conflict") summary.conflicts++;
      } catch (err) {
        summary.errors++;
        deps.log.error("watch_failed", {
          task_id: w.task_id,
          error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : "unknown",
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, worker));
  summary.deferred = queue.length - summary.processed - summary.errors;
  queue.forEach((w, i) => {
    const owed = nextDeliveryAt(w);
    // An unfinished watch is late only when this tick could not get to it.
    const since = owed ?? (i >= next ? Date.parse(w.updated_at) : start);
    summary.oldestDueAgeS = Math.max(summary.oldestDueAgeS, Math.round((start - since) / 1000));
  });
  return summary;
}

/** Fisher-Yates, with the injected random source. */
function shuffle<T>(xs: T[], random: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}
