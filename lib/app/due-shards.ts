/**
 * `DUE_SHARDS` can be lowered without stranding a watch: entries written while
 * the count was higher sit in shards no invocation reads any more. The
 * coordinator sweeps those shards (every id up to the largest count allowed)
 * and moves each entry it finds to the shard its key hashes to now. Raising
 * the count needs nothing: every old shard id is still read, and an entry
 * moves to its new shard with the watch's next write.
 */
import { errorText } from "../domain/error-text";
import type { Logger, WatchRepository } from "./ports";

/** Move every entry found beyond `dueShards()`; returns how many moved. Never throws: the next sweep tries again. */
export async function sweepStrayShards(store: WatchRepository, log: Logger): Promise<number> {
  let moved = 0;
  try {
    const stray = await store.strayDueKeys();
    for (const k of stray) {
      try {
        if (await store.reshard(k)) moved++;
      } catch (err) {
        log.error("reshard_failed", { tenant: k.tenant, task_id: k.taskId, shard: k.shard, error: errorText(err) });
      }
    }
  } catch (err) {
    log.error("stray_shard_sweep_failed", { error: errorText(err) });
  }
  if (moved > 0) log.info("due_entries_resharded", { moved });
  return moved;
}
