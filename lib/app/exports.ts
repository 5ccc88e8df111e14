/**
 * Exported documents of any size APIG returns: stored beside the watch
 * before the watch's terminal write, served whole by `GET /tasks/{id}/export`,
 * and shown to notifications inline (small) or as a link (large). The watch
 * itself keeps only the facts and a short preview.
 */
import { ExportUnreadableError } from "../domain/errors";
import {
  MAX_SERVED_GZIP_BYTES,
  notifiedExportResult,
  packExport,
  storedExportResult,
  NOTIFY_INLINE_MAX_BYTES,
  unpackExport,
} from "../domain/export-document";
import type { ApigObservation } from "../domain/lifecycle";
import { exportDocumentOf } from "../domain/task-result";
import { isTerminal, type Watch } from "../domain/watch";
import { toView, type WatchView } from "../domain/watch-view";
import { withImportLists } from "./import-lists";
import type { Logger, WatchRepository } from "./ports";

/** What a set of chunks holds: `E` an export's document (the default), `R` an import result's lists. */
export type PartKind = "E" | "R";

/** Where exported documents (and large import results) are kept, in compressed chunks. */
export interface ExportStore {
  /** Store a finished watch's chunks (idempotent), to expire with the watch. */
  put(w: Pick<Watch, "tenant" | "task_id" | "finished_at" | "updated_at">, chunks: readonly Uint8Array[], kind?: PartKind): Promise<void>;
  /** The first `chunks` chunks of a watch's document, consistently read; missing ones are absent. */
  get(tenant: string, taskId: string, chunks: number, kind?: PartKind): Promise<Array<{ index: number; data: Uint8Array }>>;
  /** Epoch seconds from which the table's TTL may remove a finished watch's chunks (its `expires_at`). */
  expiresAt(w: Pick<Watch, "finished_at" | "updated_at">): number;
}

/** What storing and serving exports need; without `exports` a watch keeps the first 64 KiB, as before. */
export interface ExportDeps {
  exports?: ExportStore;
  /** The API's public base URL (`PUBLIC_URL`) for the links notifications carry. */
  publicUrl?: string | null;
}

/**
 * The watch to write for `next`: when it ends an export with a document,
 * the whole document is stored first (so a terminal watch never points at
 * chunks that are not there) and the watch keeps its facts and a preview.
 */
export async function keepExport(deps: ExportDeps, next: Watch, observation: ApigObservation): Promise<Watch> {
  if (!deps.exports || !observation.ok || !isTerminal(next.status) || next.result?.kind !== "export") return next;
  const document = exportDocumentOf(observation.task_result, next.task_type);
  if (document === null) return next;
  const packed = packExport(document);
  await deps.exports.put(next, packed.chunks);
  return { ...next, result: storedExportResult(next.result, document, packed) };
}

/** `GET /tasks/{id}/export`: the compressed document and its facts, or why there is none. */
export type ReadExportResult =
  | { ok: true; gzip: Buffer; file_name: string | undefined; file_type: string | undefined; sha256: string; size_bytes: number }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "no_export" }
  | { ok: false; reason: "export_expired"; expired_at: string }
  | { ok: false; reason: "export_too_large"; gzip_bytes: number; limit: number };

/**
 * A tenant's stored export, checked whole against the watch's SHA-256.
 * Scoped like `GET /tasks/{task_id}`: another tenant's watch is `not_found`.
 * Chunks missing past the retention are `export_expired`: DynamoDB's TTL
 * removes the chunks and the watch in no set order, so the watch may
 * outlive its document by a while.
 * @throws ExportUnreadableError when chunks are missing or do not match: never a wrong document
 */
export async function readExport(
  deps: { store: WatchRepository; exports?: ExportStore; log: Logger; clock: () => Date },
  tenant: string,
  taskId: string,
): Promise<ReadExportResult> {
  const w = await deps.store.get(tenant, taskId);
  if (w === null) return { ok: false, reason: "not_found" };
  const r = w.result;
  if (r?.kind !== "export" || r.chunks === undefined || r.sha256 === undefined || r.size_bytes === undefined || !deps.exports) {
    return { ok: false, reason: "no_export" };
  }
  const parts = await deps.exports.get(tenant, taskId, r.chunks);
  const expiresAtMs = deps.exports.expiresAt(w) * 1000;
  if (parts.length < r.chunks && expiresAtMs <= deps.clock().getTime()) {
    return { ok: false, reason: "export_expired", expired_at: new Date(expiresAtMs).toISOString() };
  }
  const gzipBytes = parts.reduce((n, p) => n + p.data.length, 0);
  if (gzipBytes > MAX_SERVED_GZIP_BYTES) return { ok: false, reason: "export_too_large", gzip_bytes: gzipBytes, limit: MAX_SERVED_GZIP_BYTES };
  const u = unpackExport(parts, { chunks: r.chunks, sha256: r.sha256, size_bytes: r.size_bytes });
  if (!u.ok) {
    deps.log.error("export_unreadable", { tenant, task_id: taskId, problem: u.problem });
    throw new ExportUnreadableError(u.problem);
  }
  return { ok: true, gzip: u.gzip, file_name: r.file_name, file_type: r.file_type, sha256: r.sha256, size_bytes: r.size_bytes };
}

/**
 * The view notifications are built from: an import's lists read back from
 * beside the watch (`import-lists.ts`), a stored export up to 20 KB with
 * its whole document, a larger one with the link to it (and its size and
 * SHA-256, not the document). A document that cannot be read is linked.
 */
export async function notificationView(deps: ExportDeps & { log: Logger }, w: Watch): Promise<WatchView> {
  const view = toView(await withImportLists(deps, w));
  const r = w.result;
  if (r?.kind !== "export" || r.chunks === undefined || r.size_bytes === undefined) return view;
  let document: string | null = null;
  if (r.size_bytes <= NOTIFY_INLINE_MAX_BYTES && deps.exports && r.sha256 !== undefined) {
    try {
      const u = unpackExport(await deps.exports.get(w.tenant, w.task_id, r.chunks), { chunks: r.chunks, sha256: r.sha256, size_bytes: r.size_bytes });
      if (u.ok) document = u.document.toString("utf8");
      else deps.log.error("export_unreadable", { tenant: w.tenant, task_id: w.task_id, problem: u.problem });
    } catch (err) {
      deps.log.warn("export_read_failed", { tenant: w.tenant, task_id: w.task_id, error: err instanceof Error ? err.name : "error" });
    }
  }
  return { ...view, result: notifiedExportResult(r, w.task_id, deps.publicUrl ?? null, document) };
}
