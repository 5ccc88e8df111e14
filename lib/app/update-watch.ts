/** The read-modify-write loop behind every `WatchRepository.update`, written once for every adapter. */
import type { Watch } from "../domain/watch";
import type { Decision, UpdateResult, WatchRepository } from "./ports";

/**
 * Read (or take `opts.current`), decide, save conditionally; on a conflict
 * read the stored copy again and decide afresh, since retrying a stale copy
 * could never succeed.
 */
export async function readDecideWrite<A>(
  repo: Pick<WatchRepository, "get" | "save">,
  tenant: string,
  taskId: string,
  decide: (current: Watch) => Decision<A> | Promise<Decision<A>>,
  opts: { current?: Watch; tries?: number } = {},
): Promise<UpdateResult<A>> {
  let w = opts.current ?? (await repo.get(tenant, taskId));
  for (let i = 0; i < (opts.tries ?? 5); i++) {
    if (w === null) return { kind: "not_found" };
    const d = await decide(w);
    if ("answer" in d) return { kind: "answered", answer: d.answer };
    const saved = await repo.save(d.write, d.leaseUntil);
    if (saved !== "conflict") return { kind: "written", watch: saved };
    w = await repo.get(tenant, taskId);
  }
  return { kind: "busy", latest: w };
}

/**
 * An update as a use case's result: the watch written, the decision's own
 * answer, or `not_found` / `busy`.
 */
export function updateResult<A>(r: UpdateResult<A>): A | { ok: true; watch: Watch } | { ok: false; reason: "not_found" | "busy" } {
  switch (r.kind) {
    case "written":
      return { ok: true, watch: r.watch };
    case "answered":
      return r.answer;
    default:
      return { ok: false, reason: r.kind };
  }
}
