/** Cancelling a watch: the `cancel` event, written conditionally, re-read on a lost race. */
import { transition } from "../domain/lifecycle";
import type { Watch } from "../domain/watch";
import type { WatchDeps } from "./deps";
import { updateResult } from "./update-watch";

export type CancelResult =
  | { ok: true; watch: Watch }
  | { ok: false; reason: "not_found" | "busy" }
  | { ok: false; reason: "already_finished"; watch: Watch };

/** Cancel a tenant's watch; cancelling a cancelled watch answers it again. */
export async function cancelWatch(deps: Pick<WatchDeps, "store" | "clock" | "rules">, tenant: string, taskId: string): Promise<CancelResult> {
  const r = await deps.store.update<CancelResult>(tenant, taskId, (w) => {
    if (w.status === "cancelled") return { answer: { ok: true, watch: w } };
    const t = transition(w, { type: "cancel" }, deps.clock(), deps.rules);
    if (!t.changed) return { answer: { ok: false, reason: "already_finished", watch: w } };
    return { write: t.next };
  });
  return updateResult(r);
}
