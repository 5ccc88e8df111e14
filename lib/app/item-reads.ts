/**
 * Item reads for the poll loop, batched: the reads asked for in one turn of
 * the event loop go out as one BatchGetItem (at most 100 keys), so the
 * watches polled together that need their item (APIG's answer changed, an
 * entry from before the index carried the poll's facts, a delivery) cost one
 * round trip rather than one each.
 */
import { MalformedWatchError } from "../domain/errors";
import type { Watch } from "../domain/watch";
import type { WatchRepository } from "./ports";

interface Pending {
  tenant: string;
  taskId: string;
  resolve: (w: Watch | null) => void;
  reject: (err: unknown) => void;
}

const MAX_BATCH = 100;

export class ItemReads {
  private pending: Pending[] = [];

  constructor(private readonly store: Pick<WatchRepository, "getMany">) {}

  /** The stored watch (strongly consistent), or null when it is gone. */
  read(tenant: string, taskId: string): Promise<Watch | null> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) queueMicrotask(() => void this.flush());
      this.pending.push({ tenant, taskId, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const all = this.pending;
    this.pending = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) {
      const batch = all.slice(i, i + MAX_BATCH);
      try {
        const got = await this.store.getMany(batch.map(({ tenant, taskId }) => ({ tenant, taskId })));
        const byKey = new Map(got.found.map((w) => [`${w.tenant}/${w.task_id}`, w]));
        const bad = new Set(got.malformed.map((k) => `${k.tenant}/${k.taskId}`));
        for (const p of batch) {
          const key = `${p.tenant}/${p.taskId}`;
          if (bad.has(key)) p.reject(new MalformedWatchError(`stored watch ${key} is malformed`));
          else p.resolve(byKey.get(key) ?? null);
        }
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  }
}
