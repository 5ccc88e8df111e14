/**
 * An exported document kept beside its watch: gzip-compressed, cut into
 * chunks well under DynamoDB's 400 KB item limit, and named by the SHA-256
 * of the document itself, so a reader can tell a whole document from a
 * damaged one. Pure (no I/O); `store/export-repository.ts` keeps the chunks.
 */
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import type { TaskResult } from "./task-result";

/** Bytes of compressed document per stored chunk: with its keys an item stays near 256 KB, far below 400 KB. */
export const EXPORT_CHUNK_BYTES = 256 * 1024;
/** Characters of the document a watch itself keeps (`result.content`) once the whole is stored beside it. */
export const EXPORT_PREVIEW_CHARS = 512;
/** Above this many bytes of document a notification carries a link, the size and the SHA-256 instead of the document. */
export const NOTIFY_INLINE_MAX_BYTES = 20 * 1024;
/** Lambda's limit on a synchronous response (the whole payload, headers and the base64 body included). */
export const LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024;
/**
 * The largest compressed document `GET /tasks/{id}/export` can serve: base64
 * makes 3 bytes 4, and 8 KiB are left for the status and the headers.
 */
export const MAX_SERVED_GZIP_BYTES = Math.floor((LAMBDA_RESPONSE_BYTES - 8 * 1024) / 4) * 3;

/** A document ready to store: its facts and its compressed bytes in chunks. */
export interface PackedExport {
  /** UTF-8 bytes of the document. */
  size_bytes: number;
  /** Hex SHA-256 of the document's UTF-8 bytes. */
  sha256: string;
  /** Bytes of the whole gzip stream (the chunks joined). */
  gzip_bytes: number;
  chunks: Buffer[];
}

/** Hex SHA-256 of `data`. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Compress and cut a document. Deterministic (gzip without a timestamp), so
 * a writer that stores the same document again writes the same chunks.
 * @param chunkBytes bytes per chunk (tests pass a small one)
 */
export function packExport(document: string, chunkBytes = EXPORT_CHUNK_BYTES): PackedExport {
  const raw = Buffer.from(document, "utf8");
  const gzip = gzipSync(raw, { level: 9 });
  const chunks: Buffer[] = [];
  for (let at = 0; at < gzip.length; at += chunkBytes) chunks.push(gzip.subarray(at, at + chunkBytes));
  return { size_bytes: raw.length, sha256: sha256Hex(raw), gzip_bytes: gzip.length, chunks };
}

/** What a stored document must match: the watch's own record of it. */
export interface ExportFacts {
  chunks: number;
  /** Hex SHA-256 of the document, or its first 16 or more digits. */
  sha256: string;
  size_bytes: number;
}

/** The stored chunks joined back into the gzip stream and the document, or what is wrong with them. */
export type Unpacked = { ok: true; gzip: Buffer; document: Buffer } | { ok: false; problem: string };

/**
 * Join chunks (any order) and check them against the watch's facts: every
 * chunk present once, the stream decompresses, and the document has the
 * recorded size and SHA-256. Never throws: a damaged store is a `problem`,
 * never a wrong document.
 */
export function unpackExport(parts: ReadonlyArray<{ index: number; data: Uint8Array }>, facts: ExportFacts): Unpacked {
  const byIndex = new Map<number, Uint8Array>();
  for (const p of parts) if (p.index >= 0 && p.index < facts.chunks) byIndex.set(p.index, p.data);
  if (byIndex.size !== facts.chunks) return { ok: false, problem: `${facts.chunks - byIndex.size} of ${facts.chunks} chunks missing` };
  const gzip = Buffer.concat(Array.from({ length: facts.chunks }, (_, i) => byIndex.get(i)!));
  let document: Buffer;
  try {
    document = gunzipSync(gzip, { maxOutputLength: facts.size_bytes + 1 });
  } catch {
    return { ok: false, problem: "the stored chunks do not decompress" };
  }
  // A shorter `sha256` (at least 16 hex digits, an import's lists) is matched as the digest's prefix.
  if (document.length !== facts.size_bytes || facts.sha256.length < 16 || !sha256Hex(document).startsWith(facts.sha256)) {
    return { ok: false, problem: "the stored document does not match its SHA-256" };
  }
  return { ok: true, gzip, document };
}

/** The `Content-Type` of an exported file by APIG's `FileType` (`.json`, `json`, `yaml`, ...). */
export function exportContentType(fileType: string | undefined): string {
  const t = (fileType ?? "").replace(/^\./, "").toLowerCase();
  if (t === "yaml" || t === "yml") return "application/yaml";
  if (t === "json") return "application/json";
  return "application/octet-stream";
}

type ExportResult = Extract<TaskResult, { kind: "export" }>;

/**
 * The result a watch keeps once its whole document is stored beside it:
 * the file's facts, its size, SHA-256 and chunk count, and a short preview.
 */
export function storedExportResult(r: ExportResult, document: string, packed: PackedExport): ExportResult {
  let end = Math.min(document.length, EXPORT_PREVIEW_CHARS);
  // Never end the preview inside a surrogate pair.
  if (end < document.length && /[\uD800-\uDBFF]/.test(document.charAt(end - 1))) end--;
  return {
    kind: "export",
    ...(r.file_name !== undefined ? { file_name: r.file_name } : {}),
    ...(r.file_type !== undefined ? { file_type: r.file_type } : {}),
    content: document.slice(0, end),
    content_chars: document.length,
    truncated: end < document.length,
    size_bytes: packed.size_bytes,
    sha256: packed.sha256,
    chunks: packed.chunks.length,
  };
}

/** The path of a watch's stored document in the HTTP API. */
export function exportPath(taskId: string): string {
  return `/tasks/${encodeURIComponent(taskId)}/export`;
}

/**
 * What a notification carries of a stored export: the whole document up to
 * {@link NOTIFY_INLINE_MAX_BYTES} (`document`, when it could be read), else
 * the link, with the size and SHA-256 the result already holds. A result
 * without stored chunks is carried as it is.
 * @param publicUrl the API's base URL (`PUBLIC_URL`); null: the link is the path alone
 */
export function notifiedExportResult(r: ExportResult, taskId: string, publicUrl: string | null, document: string | null): ExportResult {
  if (r.chunks === undefined || r.size_bytes === undefined) return r;
  if (r.size_bytes <= NOTIFY_INLINE_MAX_BYTES && document !== null) return { ...r, content: document, truncated: false };
  return { ...r, download_url: `${(publicUrl ?? "").replace(/\/+$/, "")}${exportPath(taskId)}` };
}
