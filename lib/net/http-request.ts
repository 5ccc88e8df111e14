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
  const res = await request(url, {
    method: opts.method,
    headers: opts.headers,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    dispatcher: opts.dispatcher,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    // Covers connect and a slow trickle too, which the two timeouts above do not.
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of res.body) {
    const buf = chunk as Buffer;
    if (size + buf.length > opts.maxBodyBytes) {
      res.body.destroy();
      if (opts.overflow === "fail") throw new ResponseTooLargeError(res.statusCode, opts.maxBodyBytes);
      chunks.push(buf.subarray(0, opts.maxBodyBytes - size));
      truncated = true;
      break;
    }
    size += buf.length;
    chunks.push(buf);
  }
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8"), truncated };
}
