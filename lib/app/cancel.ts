/** Cancelling a watch: the `cancel` event, written conditionally, re-read on a lost race. */
import { transition } from "../domain/lifecycle";
import type { Watch } from "../domain/watch";
import type { WatchDeps } from "./process-watch";

export type CancelResult =
  | { ok: true; watch: Watch }
  | { ok: false; reason: "not_found" | "busy" }
  | { ok: false; reason: "already_finished"; watch: Watch };

/** Cancel a tenant's watch; cancelling a cancelled watch answers it again. */
export async function cancelWatch(deps: WatchDeps, tenant: string, taskId: string): Promise<CancelResult> {
  // The poller may write between our read and our write; re-read and try again.
  for (let i = 0; i < 5; i++) {
    const w = await deps.store.get(tenant, taskId);
    if (!w) return { ok: false, reason: "not_found" };
    if (w.status === "cancelled") return { ok: true, watch: w };
    const t = transition(w, { type: "cancel" }, deps.clock(), deps.rules);
    if (!t.changed) return { ok: false, reason: "already_finished", watch: w };
    const saved = await deps.store.save(t.next);
    if (saved !== "conflict") return { ok: true, watch: saved };
  }
  return { ok: false, reason: "busy" };
}
