/** Reading one watch, at once or waiting (long-poll) until it ends or the wait runs out. */
import { isTerminal, type Watch } from "../domain/watch";
import type { WatchDeps } from "./deps";

export type ReadResult = { ok: true; watch: Watch } | { ok: false; reason: "not_found" };

/** First pause between two reads of a waiting request, and the longest one. */
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 1_500;

/**
 * The tenant's watch, as soon as it is terminal or once `waitS` seconds have
 * passed, whichever comes first (`waitS` 0: at once). Reads are consistent
 * and spaced 250 ms growing to 1.5 s, so a watch that ends is seen within
 * 1.5 s while a 25 s wait costs about 20 reads. Runs on `deps.clock` and
 * `deps.sleep`, so tests wait on virtual time.
 */
export async function readWatch(
  deps: Pick<WatchDeps, "store" | "clock" | "sleep">,
  tenant: string,
  taskId: string,
  waitS = 0,
): Promise<ReadResult> {
  const until = deps.clock().getTime() + waitS * 1000;
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    const w = await deps.store.get(tenant, taskId);
    if (!w) return { ok: false, reason: "not_found" };
    const left = until - deps.clock().getTime();
    if (isTerminal(w.status) || left <= 0) return { ok: true, watch: w };
    await deps.sleep(Math.min(pause, left));
    pause = Math.min(pause * 1.5, MAX_PAUSE_MS);
  }
}
