/**
 * Subscriptions, the use cases: create, list and delete a tenant's standing
 * notification routes, and complete a watch's outbox with the matching ones
 * at the moment it turns terminal (see `domain/subscription.ts`).
 */
import { SubscriptionBusyError } from "../domain/errors";
export { SubscriptionBusyError };
import type { Transition } from "../domain/lifecycle";
import { completeOutbox, type Subscription, type SubscriptionMatch } from "../domain/subscription";
import { sameTargetSpec, type TargetSpec } from "../domain/target";
import { isTerminal, type Watch } from "../domain/watch";
import { sameLabels } from "../domain/labels";

/** Most subscriptions one tenant may have (they are read, all of them, whenever a watch ends). */
export const MAX_SUBSCRIPTIONS = 50;

/** Where subscriptions live; every change is a single conditional write. */
export interface SubscriptionRepository {
  /** Store `sub` unless its tenant has one of that name (return it) or already {@link MAX_SUBSCRIPTIONS}. */
  create(sub: Subscription): Promise<{ created: true } | { created: false; existing: Subscription } | { created: false; full: true }>;
  /** The tenant's subscriptions, by name; strongly consistent. */
  list(tenant: string): Promise<Subscription[]>;
  /** False when the tenant had no subscription of that name. */
  delete(tenant: string, name: string): Promise<boolean>;
}

/** What `POST /subscriptions` asks for, validated by the adapter. */
export interface SubscriptionRequest {
  name: string;
  match: SubscriptionMatch;
  targets: TargetSpec[];
}

export type CreateSubscriptionResult =
  | { ok: true; created: boolean; subscription: Subscription }
  | { ok: false; reason: "conflict"; existing: Subscription }
  | { ok: false; reason: "limit" };

/** The same name with the same body answers the stored one (a retry); another body is a conflict. */
export async function createSubscription(
  repo: SubscriptionRepository,
  tenant: string,
  req: SubscriptionRequest,
  now: Date,
): Promise<CreateSubscriptionResult> {
  const sub: Subscription = { tenant, name: req.name, match: req.match, targets: req.targets, created_at: now.toISOString() };
  const r = await repo.create(sub);
  if (r.created) return { ok: true, created: true, subscription: sub };
  if ("full" in r) return { ok: false, reason: "limit" };
  if (sameSubscription(r.existing, sub)) return { ok: true, created: false, subscription: r.existing };
  return { ok: false, reason: "conflict", existing: r.existing };
}

/** Same match and same targets, in order. */
export function sameSubscription(a: Pick<Subscription, "match" | "targets">, b: Pick<Subscription, "match" | "targets">): boolean {
  const sameList = <T>(x: readonly T[] | undefined, y: readonly T[] | undefined) => {
    const xs = [...(x ?? [])].sort();
    const ys = [...(y ?? [])].sort();
    return xs.length === ys.length && xs.every((v, i) => v === ys[i]);
  };
  return (
    sameList(a.match.outcome, b.match.outcome) &&
    sameList(a.match.task_type, b.match.task_type) &&
    sameLabels(a.match.labels ?? {}, b.match.labels ?? {}) &&
    a.targets.length === b.targets.length &&
    a.targets.every((t, i) => sameTargetSpec(t, b.targets[i]!))
  );
}

/**
 * A transition that turns a watch terminal, with its outbox completed from
 * the tenant's subscriptions as they are now (read before the conditional
 * write that stores the transition, so both land together or not at all).
 * Any other transition comes back as it is. Throws when the subscriptions
 * cannot be read: the watch then stays as it was and the next poll tries again.
 */
export async function withSubscriptions(repo: SubscriptionRepository | undefined, before: Watch, t: Transition): Promise<Transition> {
  if (!t.changed || isTerminal(before.status) || !isTerminal(t.next.status) || t.next.status === "cancelled") return t;
  const subs = repo ? await repo.list(t.next.tenant) : [];
  const next = completeOutbox(t.next, subs);
  const owes = next.targets.some((x) => x.state === "pending");
  return { ...t, next, effects: owes ? [{ type: "deliver" }] : [] };
}
