/**
 * Redelivery: put targets of a finished watch back to `pending` for a new
 * round of tries, with the same event id (`webhook-id`), written
 * conditionally; the poller finds them through the due index and sends them.
 */
import type { NotifyTarget } from "../domain/target";
import { isTerminal, type Watch } from "../domain/watch";
import type { WatchDeps } from "./deps";
import { updateResult } from "./update-watch";

export type RedeliverResult =
  | { ok: true; watch: Watch }
  | { ok: false; reason: "not_found" | "busy" }
  | { ok: false; reason: "not_finished" | "cancelled"; watch: Watch }
  | { ok: false; reason: "unknown_targets"; ids: string[] };

/**
 * Targets `targetIds` (default: every `dead` or `delivered` one) of a
 * terminal, not cancelled watch owe a delivery again from now on.
 * A target already `pending` is left as it is: it is owed already.
 */
export async function redeliverWatch(
  deps: Pick<WatchDeps, "store" | "clock">,
  tenant: string,
  taskId: string,
  targetIds?: readonly string[],
): Promise<RedeliverResult> {
  const r = await deps.store.update<RedeliverResult>(tenant, taskId, (w) => {
    if (!isTerminal(w.status)) return { answer: { ok: false, reason: "not_finished", watch: w } };
    if (w.status === "cancelled") return { answer: { ok: false, reason: "cancelled", watch: w } };
    const unknown = (targetIds ?? []).filter((id) => !w.targets.some((t) => t.id === id));
    if (unknown.length > 0) return { answer: { ok: false, reason: "unknown_targets", ids: unknown } };
    const now = deps.clock().getTime();
    const chosen = (t: NotifyTarget) => (targetIds ? targetIds.includes(t.id) : true) && (t.state === "dead" || t.state === "delivered");
    const targets = w.targets.map<NotifyTarget>((t) =>
      // attempts restarts at 0: it indexes the retry schedule, so a new round
      // gets every retry again; the attempts log keeps the earlier tries.
      chosen(t) ? { ...t, state: "pending", attempts: 0, next_attempt_at: now, delivered_at: null } : t,
    );
    if (!targets.some((t, k) => t !== w.targets[k])) return { answer: { ok: true, watch: w } };
    // A delivery in flight keeps its lease: nobody else starts sending until
    // it has recorded its tries (onto this copy), so no target is sent twice.
    const leased = w.lease_until !== undefined && w.lease_until > now ? { leaseUntil: w.lease_until } : {};
    return { write: { ...w, targets, updated_at: new Date(now).toISOString() }, ...leased };
  });
  return updateResult(r);
}
