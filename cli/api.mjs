// @ts-check
/**
 * The CLI's calls to the apig-taskwatch HTTP API over Node's built-in fetch,
 * and the mapping of every way they can fail to one line and an exit code.
 */

import { createHash } from "node:crypto";

/** Exit codes, as docs/cli.md ("Exit codes") documents them. */
export const EXIT = /** @type {const} */ ({ ok: 0, failed: 1, usage: 2, partial: 3, still_running: 4, unreachable: 5, rejected: 6 });

/** A failure with a one-line message and the exit code it ends the CLI with. */
export class CliError extends Error {
  /** @override */
  name = "CliError";
  /**
   * @param {string} message
   * @param {number} exitCode
   * @param {boolean} [transient] worth retrying while waiting
   * @param {any} [details] what the service said beyond the message (the import gate's check of a `spec_rejected`)
   */
  constructor(message, exitCode, transient = false, details = undefined) {
    super(message);
    this.exitCode = exitCode;
    this.transient = transient;
    this.details = details;
  }
}

/**
 * @typedef {{ path: string, message: string }} Issue
 * @typedef {{ error?: { code?: string, message?: string, issues?: Issue[], apig?: { error_code: string, error_msg: string }, receiver?: { status: number | null, body: string }, check?: any } }} ErrorAnswer
 * @typedef {{ task_id: string, status: string, outcome: string | null, task_type: string | null, created_at: string,
 *   finished_at: string | null, result: any, last_error: { code: string, message: string, http_status: number | null, at: string, since?: string } | null,
 *   notify: Array<{ id: string, type: string, url: string, state: string, attempts: number, last_error: string | null }> }} Watch
 */

/**
 * One call to the API; the parsed JSON answer, or a {@link CliError}.
 * @param {{ url: string, apiKey: string | undefined }} conn
 * @param {"GET" | "POST" | "DELETE"} method
 * @param {string} path
 * @param {{ body?: unknown, timeoutMs?: number, headers?: (h: Headers) => void, raw?: boolean }} [opts] `headers` sees a good answer's headers; `raw`: a successful answer's text, not parsed
 * @returns {Promise<any>}
 */
export async function call(conn, method, path, opts = {}) {
  if (conn.apiKey === undefined) throw new CliError("no API key: set TASKWATCH_API_KEY or pass --api-key", EXIT.usage);
  /** @type {Response} */
  let res;
  try {
    res = await fetch(conn.url + path, {
      method,
      headers: {
        authorization: `Bearer ${conn.apiKey}`,
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      redirect: "error",
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : "";
    const why = err instanceof Error && err.name === "TimeoutError" ? "no answer in time" : code || (cause instanceof Error ? cause.message : "network error");
    throw new CliError(`cannot reach ${conn.url}: ${why}`, EXIT.unreachable, true);
  }
  const text = await res.text();
  if (opts.raw && res.ok) return text;
  /** @type {any} */
  let json;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.ok) {
    if (res.status === 204) return null;
    if (json === undefined || typeof json !== "object") throw new CliError(`${conn.url}${path} answered ${res.status} without JSON: is --url an apig-taskwatch API?`, EXIT.unreachable, true);
    opts.headers?.(res.headers);
    const link = res.headers.get("link");
    if (link) monitorLinks.set(json, link);
    return json;
  }
  if (!isServiceError(json) && res.status !== 401 && res.status < 500) {
    // Another server (a proxy, a stage path, a different service): a configuration problem, not the task's.
    throw new CliError(`${conn.url}${path} answered ${res.status}, which is not an apig-taskwatch answer: check --url / TASKWATCH_URL`, EXIT.unreachable);
  }
  throw errorFor(res.status, /** @type {ErrorAnswer | undefined} */ (json), path, conn.url);
}

/** The `Link` header of the answer each watch object came from (where it can be read without API Gateway). */
export const monitorLinks = new WeakMap();

/**
 * The connection reads of `taskId` go to when `link` names a read URL
 * (`<https://…/tasks/ID>; rel="monitor"`): the same key, the URL's base.
 * Only https, or http when the API itself is http (a local stack); only a
 * URL of this very watch. Null: read through the API.
 * @param {{ url: string, apiKey: string | undefined }} conn
 * @param {string | null} link
 * @param {string} taskId
 * @returns {{ url: string, apiKey: string | undefined } | null}
 */
export function monitorConn(conn, link, taskId) {
  const m = /<([^>]+)>\s*;\s*rel="?monitor"?/i.exec(link ?? "");
  if (!m) return null;
  /** @type {URL} */
  let u;
  try {
    u = new URL(m[1] ?? "");
  } catch {
    return null;
  }
  const tail = `/tasks/${encodeURIComponent(taskId)}`;
  const secure = u.protocol === "https:" || (u.protocol === "http:" && conn.url.startsWith("http:"));
  if (!secure || !u.pathname.endsWith(tail) || u.search !== "" || u.username !== "" || u.password !== "") return null;
  return { url: u.origin + u.pathname.slice(0, -tail.length), apiKey: conn.apiKey };
}

/** The service's error shape: `{"error": {"code": "...", "message": "..."}}`. @param {any} json */
function isServiceError(json) {
  return typeof json === "object" && json !== null && typeof json.error?.code === "string" && typeof json.error?.message === "string";
}

/**
 * @param {number} status
 * @param {ErrorAnswer | undefined} body
 * @param {string} path
 * @param {string} url
 */
function errorFor(status, body, path, url) {
  const e = body?.error;
  const message = e?.message ?? `HTTP ${status}`;
  if (status === 401) return new CliError(`the service refused the API key (${message})`, EXIT.unreachable);
  if (status === 400 || status === 413 || status === 415) {
    const issues = (e?.issues ?? []).map((i) => `${i.path || "body"}: ${i.message}`).join("; ");
    return new CliError(`${message}${issues ? `: ${issues}` : ""}`, EXIT.usage);
  }
  if (status === 404) {
    if (e?.code === "not_found" && message === "no such watch" && path.startsWith("/tasks/")) return new CliError(`no such watch: ${decodeURIComponent(path.split("/")[2] ?? "")}`, EXIT.failed);
    // A 404 of ours about something else (a subscription): that thing is missing.
    if (e?.code === "not_found" && message !== "no such route") return new CliError(message, EXIT.failed);
    // The service's own "no such route": the URL has a path it does not serve (a stage name, a typo).
    return new CliError(`${url}${path.split("?")[0]} is not a route of this service (${message}): check --url / TASKWATCH_URL`, EXIT.unreachable);
  }
  if (status === 422 && e?.code === "spec_rejected") return new CliError(message, EXIT.rejected, false, e.check);
  if (status === 422 && e?.receiver) {
    const said = e.receiver.body ? `: ${e.receiver.body.replace(/\s+/g, " ").slice(0, 200)}` : "";
    return new CliError(`the target refused the test notification (${e.receiver.status === null ? "no answer" : `HTTP ${e.receiver.status}`})${said}`, EXIT.failed);
  }
  if (status === 422 && e?.apig) return new CliError(`APIG refused the request: ${e.apig.error_code} ${e.apig.error_msg}`, EXIT.failed);
  if (status === 429 || status >= 500) return new CliError(`the service answered ${status}: ${message}`, EXIT.unreachable, true);
  return new CliError(message, EXIT.failed);
}

/**
 * A watch's whole exported document (`GET /tasks/{id}/export`), checked
 * against the SHA-256 the service sends: the bytes, or a {@link CliError}.
 * fetch undoes the answer's `Content-Encoding: gzip`.
 * @param {{ url: string, apiKey: string | undefined }} conn
 * @param {string} taskId
 * @param {string | undefined} expectSha256 the watch's own `result.sha256`, when it has one
 * @returns {Promise<Buffer>}
 */
export async function downloadExport(conn, taskId, expectSha256) {
  if (conn.apiKey === undefined) throw new CliError("no API key: set TASKWATCH_API_KEY or pass --api-key", EXIT.usage);
  const path = `/tasks/${encodeURIComponent(taskId)}/export`;
  /** @type {Response} */
  let res;
  /** @type {Buffer} */
  let bytes;
  try {
    res = await fetch(conn.url + path, { headers: { authorization: `Bearer ${conn.apiKey}` }, redirect: "error", signal: AbortSignal.timeout(120_000) });
    bytes = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    const why = err instanceof Error && err.name === "TimeoutError" ? "no answer in time" : err instanceof Error ? err.message : "network error";
    throw new CliError(`cannot fetch ${conn.url}${path}: ${why}`, EXIT.unreachable, true);
  }
  if (!res.ok) {
    /** @type {any} */
    let json;
    try {
      json = JSON.parse(bytes.toString("utf8"));
    } catch {
      json = undefined;
    }
    if (res.status === 404 && json?.error?.code === "no_export") throw new CliError(`${taskId}: ${json.error.message}`, EXIT.failed);
    throw errorFor(res.status, json, path, conn.url);
  }
  const sent = res.headers.get("x-content-sha256") ?? undefined;
  const got = createHash("sha256").update(bytes).digest("hex");
  for (const want of [sent, expectSha256]) {
    if (want !== undefined && want !== got) throw new CliError(`the export of ${taskId} arrived damaged: SHA-256 ${got}, expected ${want}; nothing was written`, EXIT.failed, true);
  }
  return bytes;
}
