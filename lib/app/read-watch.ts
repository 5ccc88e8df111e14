/**
 * Reading one watch for a client, and what the client should do next: come
 * back after `Retry-After` seconds, when the watch will have been polled
 * again. A client that says it is waiting (`?wait=`, any value: the CLI sends
 * `wait=0`) marks the watch as waited, so the poller polls it at the young
 * cadence (`domain/cadence.ts`) whatever its age, for as long as reads keep
 * coming; the mark is one conditional write every four minutes at most.
 *
 * A waiting client's reads are eventually consistent: half the read units on
 * the path that makes most reads (62 for a 3-minute task), at the price of
 * seeing a write of the last second or so one `Retry-After` later. A read that
 * finds nothing asks again strongly, so a watch registered a moment ago is
 * never answered 404. A look without `wait` stays strongly consistent.
 *
 * `wait=S` (clients that cannot follow `Retry-After`) holds the answer up to
 * S seconds, reading the table again only once each expected poll has had
 * time to land instead of every few hundred milliseconds.
 */
import { type CadenceRules, DEFAULT_CADENCE, needsWaitedMark, retryAfterS, WAITED_FOR_MS } from "../domain/cadence";
import { errorText } from "../domain/error-text";
import { isTerminal, type Watch } from "../domain/watch";
import type { Logger, WatchRepository } from "./ports";

export interface ReadDeps {
  store: WatchRepository;
  clock: () => Date;
  log: Logger;
  /** Resolves after `ms` (tests pass a virtual one); needed only for `waitS > 0`. */
  sleep?: (ms: number) => Promise<void>;
  /** The poller's cadence, which `Retry-After` follows. */
  cadence?: CadenceRules;
}

/** The watch, and the seconds until its next poll has landed (1 to 60; null once it is terminal); or `not_found`. */
export type ReadResult = { ok: true; watch: Watch; retryAfterS: number | null } | { ok: false; reason: "not_found" };

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One watch for `GET /tasks/{task_id}`.
 * @param o.waitS absent: a look; present: a waiting client, held up to that many seconds (0: answer at once)
 */
export async function readWatch(deps: ReadDeps, tenant: string, taskId: string, o: { waitS?: number } = {}): Promise<ReadResult> {
  const cadence = deps.cadence ?? DEFAULT_CADENCE;
  const sleep = deps.sleep ?? realSleep;
  const start = deps.clock().getTime();
  const until = start + (o.waitS ?? 0) * 1000;
  const waiting = o.waitS !== undefined;
  const get = async (): Promise<Watch | null> => {
    if (!waiting) return deps.store.get(tenant, taskId);
    return (await deps.store.get(tenant, taskId, { consistent: false })) ?? deps.store.get(tenant, taskId);
  };
  let w = await get();
  if (w === null) return { ok: false, reason: "not_found" };
  if (waiting && !isTerminal(w.status)) w = await markWaited(deps, w, start);
  for (;;) {
    const now = deps.clock().getTime();
    if (isTerminal(w.status)) return { ok: true, watch: w, retryAfterS: null };
    const retry = retryAfterS({ createdAt: Date.parse(w.created_at), waitedUntil: w.waited_until ?? null }, now, cadence);
    const left = until - now;
    if (left <= 0) return { ok: true, watch: w, retryAfterS: retry };
    await sleep(Math.min(left, retry * 1000));
    const again = await get();
    // Deleted meanwhile (retention): answer with what was read.
    if (again === null) return { ok: true, watch: w, retryAfterS: retry };
    w = again;
  }
}

/**
 * Mark `w` as waited on until five minutes from now, unless a recent read did.
 * Conditional on the version read: a conflict (the poller just wrote) leaves
 * it to the next read, and a failure never fails the read.
 */
async function markWaited(deps: ReadDeps, w: Watch, now: number): Promise<Watch> {
  if (!needsWaitedMark(w.waited_until, now)) return w;
  try {
    const saved = await deps.store.save({ ...w, waited_until: now + WAITED_FOR_MS });
    return saved === "conflict" ? w : saved;
  } catch (err) {
    deps.log.warn("waited_mark_failed", { task_id: w.task_id, error: errorText(err) });
    return w;
  }
}
