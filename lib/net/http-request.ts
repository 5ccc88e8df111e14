/**
 * The one way this service makes an outbound HTTP call (APIG, IAM,
 * notification receivers): undici with a dispatcher passed in, one deadline
 * covering connect, headers and body, and a cap on how much of the answer is
 * read, so no peer can make us buffer without end.
 */
import { ResponseTooLargeError } from "../domain/errors";
export { ResponseTooLargeError };
import { type Dispatcher, request } from "./undici";

export interface CappedRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  dispatcher: Dispatcher;
  /** Whole-call deadline: connect, headers and body. */
  timeoutMs: number;
  /** Most bytes of the answer read. */
  maxBodyBytes: number;
  /**
   * What to do with an answer over `maxBodyBytes`: `truncate` keeps the first
   * bytes (a receiver's error page), `fail` throws {@link ResponseTooLargeError}.
   */
  overflow: "truncate" | "fail";
}

export interface CappedResponse {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  /** The answer as UTF-8, at most `maxBodyBytes` of it. */
  body: string;
  truncated: boolean;
}

/** The answer was larger than the caller accepts. */

/**
 * Send one request and read at most `maxBodyBytes` of the answer. Network
 * errors and timeouts are thrown as undici / DOM errors with their `code`
 * or `name`; see `error-text.ts` to describe them.
 */
export async function requestCapped(url: string | URL, opts: CappedRequest): Promise<CappedResponse> {
  // Covers connect and a slow trickle too, which undici's two timeouts do not.
  // One timer, cleared when the call ends: AbortSignal.timeout's stays armed
  // until it fires and costs several times more to make, on every poll.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), opts.timeoutMs);
  timer.unref();
  try {
    const res = await request(url, {
      method: opts.method,
      headers: opts.headers,
      ...(opts.body !== undefined ? { body: opts.body } : {}),
      dispatcher: opts.dispatcher,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      signal: deadline.signal,
    });
    const read = await readCapped(res.body, opts.maxBodyBytes, opts.overflow, res.statusCode);
    return { status: res.statusCode, headers: res.headers, body: read.body, truncated: read.truncated };
  } finally {
    clearTimeout(timer);
  }
}

/** At most `max` bytes of a body as UTF-8, read with events (an async iterator per answer costs more). */
function readCapped(
  body: Dispatcher.ResponseData["body"],
  max: number,
  overflow: CappedRequest["overflow"],
  status: number,
): Promise<{ body: string; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const text = () => (chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"));
    body.on("data", (chunk: Buffer) => {
      if (size + chunk.length > max) {
        body.removeAllListeners("data");
        body.removeAllListeners("end");
        // Errors after this (the destroy's own) are for nobody: the promise is settled.
        body.on("error", () => {});
        body.destroy();
        if (overflow === "fail") return reject(new ResponseTooLargeError(status, max));
        chunks.push(chunk.subarray(0, max - size));
        return resolve({ body: text(), truncated: true });
      }
      size += chunk.length;
      chunks.push(chunk);
    });
    body.on("end", () => resolve({ body: text(), truncated: false }));
    body.on("error", reject);
  });
}
