/**
 * An import result's lists beside the watch. APIG lists every imported,
 * failed and ignored API (up to 100 of each are kept); inside the item they
 * would make every later write of the watch (the delivery record, a
 * redelivery) cost one write unit per KB of them. So a finished import's
 * lists, when larger than {@link INLINE_LISTS_BYTES}, are stored compressed
 * beside the watch before its terminal write (as an export's document is,
 * `exports.ts`), the item keeps the counts, and answers and notifications
 * read them back.
 */
import { packExport, unpackExport } from "../domain/export-document";
import { ImportedApi, ImportFailure } from "../domain/task-result";
import { isTerminal, type Watch } from "../domain/watch";
import * as z from "../domain/zod";
import type { ExportDeps } from "./exports";
import type { Logger } from "./ports";

/** Lists up to this many bytes of JSON stay in the item (a one-API import's do). */
export const INLINE_LISTS_BYTES = 256;

const Lists = z.object({
  success: z.array(ImportedApi),
  failure: z.array(ImportFailure),
  ignore: z.array(z.object({ method: z.optional(z.string()), path: z.optional(z.string()) })),
});

/** The watch to write for `next`: a finished import's large lists stored beside it first, the watch pointing at them. */
export async function keepImportLists(deps: ExportDeps, next: Watch): Promise<Watch> {
  const r = next.result;
  if (!deps.exports || !isTerminal(next.status) || r?.kind !== "import" || next.lists_beside) return next;
  const json = JSON.stringify({ success: r.success, failure: r.failure, ignore: r.ignore });
  if (Buffer.byteLength(json) <= INLINE_LISTS_BYTES) return next;
  const packed = packExport(json);
  await deps.exports.put(next, packed.chunks, "R");
  // 16 hex digits of the digest tell these lists from any other; the whole would cost 48 bytes more in every write.
  return { ...next, lists_beside: { chunks: packed.chunks.length, sha256: packed.sha256.slice(0, 16), size_bytes: packed.size_bytes } };
}

/**
 * `w` with its import lists read back from beside it (unchanged when they are
 * in the item). Lists that can no longer be read (removed by the retention
 * before the watch) are answered empty with `truncated: true`, and logged:
 * never wrong lists.
 */
export async function withImportLists(deps: ExportDeps & { log: Logger }, w: Watch): Promise<Watch> {
  const facts = w.lists_beside;
  const r = w.result;
  if (!facts || r?.kind !== "import" || r.success.length + r.failure.length + r.ignore.length > 0) return w;
  let problem: string;
  try {
    const u = deps.exports ? unpackExport(await deps.exports.get(w.tenant, w.task_id, facts.chunks, "R"), facts) : { ok: false as const, problem: "no store" };
    if (u.ok) {
      const lists = Lists.safeParse(JSON.parse(u.document.toString("utf8")));
      if (lists.success) return { ...w, result: { ...r, ...lists.data } };
      problem = "the stored lists do not parse";
    } else problem = u.problem;
  } catch (err) {
    problem = err instanceof Error ? err.name : "error";
  }
  deps.log.error("import_lists_unreadable", { tenant: w.tenant, task_id: w.task_id, problem });
  return { ...w, result: { ...r, truncated: true } };
}
