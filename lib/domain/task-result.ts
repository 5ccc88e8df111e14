/**
 * Parses APIG's `task_result` string into a bounded, typed summary.
 *
 * `task_result` is a JSON string whose shape depends on task type and outcome
 * (ShowAsyncTaskResult): import results, export results in two documented
 * spellings, and `{error_code, error_msg}` for failures. Anything else is kept
 * raw. Lists and file contents are capped so a watch item stays far below
 * DynamoDB's 400 KB item limit whatever APIG sends.
 */
import * as z from "./zod";

/** How many entries of each import list are kept; counts always cover all. */
export const MAX_LISTED = 100;
/** How many characters of an exported file, error text or raw result are kept. */
export const MAX_TEXT_CHARS = 64 * 1024;

const str = z.optional(z.string());
export const ImportedApi = z.object({ id: str, method: str, path: str, action: str });
export type ImportedApi = z.infer<typeof ImportedApi>;
export const ImportFailure = z.object({ method: str, path: str, error_code: str, error_msg: str });
export type ImportFailure = z.infer<typeof ImportFailure>;

/** A parsed `task_result`, as stored and shown. `kind` tells which documented shape it matched. */
export const TaskResult = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("import"),
    group_id: str,
    swagger: z.optional(z.object({ id: str, result: str })),
    success_count: z.number(),
    failure_count: z.number(),
    ignore_count: z.number(),
    success: z.array(ImportedApi),
    failure: z.array(ImportFailure),
    ignore: z.array(z.object({ method: str, path: str })),
    truncated: z.boolean(),
  }),
  z.object({
    kind: z.literal("export"),
    file_name: str,
    file_type: str,
    /** The document, or once it is stored beside the watch (`chunks`) its first characters. */
    content: str,
    content_chars: z.number(),
    truncated: z.boolean(),
    /** UTF-8 bytes of the whole document; set once it is stored beside the watch. */
    size_bytes: z.optional(z.number()),
    /** Hex SHA-256 of the whole document (`GET /tasks/{task_id}/export` answers it as `X-Content-SHA256`). */
    sha256: z.optional(z.string()),
    /** Stored chunks of the compressed document: present when `GET /tasks/{task_id}/export` has it. */
    chunks: z.optional(z.number()),
    /** In notifications of documents over 20 KB only: where to fetch it (`GET /tasks/{task_id}/export`). */
    download_url: z.optional(z.string()),
  }),
  z.object({ kind: z.literal("failure"), error_code: str, error_msg: str }),
  z.object({ kind: z.literal("raw"), raw: z.string(), truncated: z.boolean() }),
]);
export type TaskResult = z.infer<typeof TaskResult>;

// Lenient field types for what APIG sends: APIG is the outside world, a number
// where a string was documented must not turn a finished import into an
// unreadable one.
const text = z.catch(
  z.optional(z.pipe(z.union([z.string(), z.number(), z.boolean()]), z.transform((v) => cut(String(v))))),
  undefined,
);
const entry = z.looseObject({});

const importShape = z.object({
  group_id: text,
  success: z.catch(z.optional(z.array(entry)), undefined),
  failure: z.catch(z.optional(z.array(entry)), undefined),
  ignore: z.catch(z.optional(z.array(entry)), undefined),
  swagger: z.catch(z.optional(z.object({ id: text, result: text })), undefined),
});

const failureShape = z.object({ error_code: z.string(), error_msg: text });

function cut(s: string, max = MAX_TEXT_CHARS): string {
  return s.length > max ? s.slice(0, max) : s;
}

function pick<K extends string>(o: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) {
    const v = o[k];
    if (typeof v === "string" || typeof v === "number") out[k] = cut(String(v), 2048);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parse a `task_result` string. Returns `null` for the empty string APIG sends
 * while a task is pending. Never throws.
 *
 * @param raw the `task_result` field as APIG sent it
 * @param taskType `import_api` / `export_api` when known; only a tie-breaker
 */
export function parseTaskResult(raw: string, taskType?: string | null): TaskResult | null {
  if (raw.trim() === "") return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { kind: "raw", raw: cut(raw), truncated: raw.length > MAX_TEXT_CHARS };
  }
  if (!isRecord(json)) return { kind: "raw", raw: cut(raw), truncated: raw.length > MAX_TEXT_CHARS };

  const failure = failureShape.safeParse(json);
  const looksImport = ["success", "failure", "ignore", "swagger", "group_id"].some((k) => k in json);
  if (failure.success && !looksImport) {
    return { kind: "failure", error_code: cut(failure.data.error_code, 256), error_msg: failure.data.error_msg };
  }

  const looksExport = ["FileName", "FileType", "Comment", "file_type", "content"].some((k) => k in json);
  if (looksExport && (!looksImport || taskType === "export_api")) {
    const { name, type, contentText } = exportFields(json);
    return {
      kind: "export",
      ...(typeof name === "string" ? { file_name: cut(name, 1024) } : {}),
      ...(typeof type === "string" ? { file_type: cut(type, 256) } : {}),
      ...(contentText !== undefined ? { content: cut(contentText) } : {}),
      content_chars: contentText?.length ?? 0,
      truncated: (contentText?.length ?? 0) > MAX_TEXT_CHARS,
    };
  }

  if (looksImport) {
    const parsed = importShape.parse(json);
    const success = parsed.success ?? [];
    const failureList = parsed.failure ?? [];
    const ignore = parsed.ignore ?? [];
    return {
      kind: "import",
      ...(parsed.group_id !== undefined ? { group_id: parsed.group_id } : {}),
      ...(parsed.swagger ? { swagger: stripUndefined(parsed.swagger) } : {}),
      success_count: success.length,
      failure_count: failureList.length,
      ignore_count: ignore.length,
      success: success.slice(0, MAX_LISTED).map((e) => pick(e, ["id", "method", "path", "action"] as const)),
      failure: failureList
        .slice(0, MAX_LISTED)
        .map((e) => pick(e, ["method", "path", "error_code", "error_msg"] as const)),
      ignore: ignore.slice(0, MAX_LISTED).map((e) => pick(e, ["method", "path"] as const)),
      truncated: Math.max(success.length, failureList.length, ignore.length) > MAX_LISTED,
    };
  }

  return { kind: "raw", raw: cut(raw), truncated: raw.length > MAX_TEXT_CHARS };
}

/** File name, type and the whole content of an export answer, as APIG sent them. */
function exportFields(json: Record<string, unknown>): { name: unknown; type: unknown; contentText: string | undefined } {
  // The example answer spells it FileName/FileType/Comment, the field table
  // file_type/content: accept both, prefer the example's spelling.
  const content = json.Comment ?? json.content;
  const contentText = typeof content === "string" ? content : content === undefined ? undefined : JSON.stringify(content);
  return { name: json.FileName, type: json.FileType ?? json.file_type, contentText };
}

/**
 * The whole exported document of a `task_result`, uncut (the parsed result
 * keeps {@link MAX_TEXT_CHARS} of it), or null when `raw` is no export with content.
 */
export function exportDocumentOf(raw: string, taskType?: string | null): string | null {
  const parsed = parseTaskResult(raw, taskType);
  if (parsed?.kind !== "export" || parsed.content === undefined) return null;
  if (!parsed.truncated) return parsed.content;
  const json: unknown = JSON.parse(raw);
  return isRecord(json) ? (exportFields(json).contentText ?? null) : null;
}

function stripUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
