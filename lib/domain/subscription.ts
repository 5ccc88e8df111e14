/**
 * A subscription: a tenant's standing notification route ("every failed or
 * partial import labelled env=prod goes to the on-call channel"), and the
 * pure rules that apply subscriptions to a watch as it turns terminal.
 *
 * The outbox is completed once, in the same conditional write as the terminal
 * transition: the targets of every subscription matching the watch at that
 * moment join the targets the registration named (one delivery a
 * destination), and targets that owe nothing for this outcome are `skipped`.
 * A subscription changed later never touches a terminal watch, so it can
 * neither duplicate nor lose a delivery.
 */
import * as z from "./zod";
import { StoredLabels } from "./labels";
import { newTarget, NotifyTarget, pagerDutyAction, type TargetSpec } from "./target";
import { isTerminal, outcomeOf, TaskType, type Watch } from "./watch";

/** Outcomes a subscription can match: every terminal one but `cancelled`, which notifies nobody. */
export const MatchOutcome = z.enum(["succeeded", "partial", "failed", "timed_out", "not_found", "error"]);
export type MatchOutcome = z.infer<typeof MatchOutcome>;

/** A subscription name: what `DELETE /subscriptions/{name}` names. */
export const SubscriptionName = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '-' or '_'"));

/** Which watches a subscription is for; an absent or empty list matches anything. */
export const SubscriptionMatch = z.object({
  outcome: z.optional(z.array(MatchOutcome)),
  task_type: z.optional(z.array(TaskType)),
  /** Every label named must be on the watch with this exact value. */
  labels: z.optional(StoredLabels),
});
export type SubscriptionMatch = z.infer<typeof SubscriptionMatch>;

/** A stored target of a subscription: what the caller named (secrets included), no delivery state. */
export const SubscriptionTarget = z.pick(NotifyTarget, { type: true, url: true, secret: true, format: true, routing_key: true, dedup_label: true });

/** One subscription of one tenant, as stored. */
export const Subscription = z.object({
  tenant: z.string(),
  name: SubscriptionName,
  match: SubscriptionMatch,
  targets: z.array(SubscriptionTarget),
  created_at: z.string(),
});
export type Subscription = z.infer<typeof Subscription>;

/** Whether a subscription is for this (terminal) watch. */
export function matches(sub: Pick<Subscription, "match">, watch: Pick<Watch, "status" | "result" | "task_type" | "labels">): boolean {
  const outcome = outcomeOf(watch);
  if (outcome === null || outcome === "cancelled") return false;
  const m = sub.match;
  if (m.outcome !== undefined && m.outcome.length > 0 && !m.outcome.includes(outcome)) return false;
  if (m.task_type !== undefined && m.task_type.length > 0 && (watch.task_type === null || !m.task_type.includes(watch.task_type))) return false;
  for (const [k, v] of Object.entries(m.labels ?? {})) {
    if (!Object.hasOwn(watch.labels, k) || watch.labels[k] !== v) return false;
  }
  return true;
}

/** Two targets reach the same destination: one delivery is enough. */
export function sameDestination(a: Pick<TargetSpec, "type" | "url" | "routing_key">, b: Pick<TargetSpec, "type" | "url" | "routing_key">): boolean {
  return a.type === b.type && a.url === b.url && a.routing_key === b.routing_key;
}

/**
 * The outbox of a watch that just turned terminal, completed: the targets of
 * `subs` that match it appended (a destination already in the outbox is not
 * added again), each owed from `finished_at`; then every target with nothing
 * to send for this outcome (a PagerDuty target on a success with no incident
 * to resolve) `skipped`. Pure; a watch that is not terminal, or cancelled,
 * comes back as it is.
 */
export function completeOutbox(watch: Watch, subs: readonly Subscription[]): Watch {
  if (!isTerminal(watch.status) || watch.status === "cancelled") return watch;
  const owedFrom = Date.parse(watch.finished_at ?? watch.updated_at);
  const targets: NotifyTarget[] = [...watch.targets];
  for (const sub of subs) {
    if (sub.tenant !== watch.tenant || !matches(sub, watch)) continue;
    for (const spec of sub.targets) {
      if (targets.some((t) => sameDestination(t, spec))) continue;
      targets.push({ ...newTarget(spec, targets.length, watch), next_attempt_at: owedFrom, subscription: sub.name });
    }
  }
  const outcome = outcomeOf(watch);
  const settled = targets.map<NotifyTarget>((t) =>
    t.type === "pagerduty" && t.state === "pending" && t.attempts === 0 && pagerDutyAction(outcome, t.dedup_key) === null
      ? { ...t, state: "skipped", next_attempt_at: null }
      : t,
  );
  return { ...watch, targets: settled };
}
