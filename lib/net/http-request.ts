/**
 * The one way this service makes an outbound HTTP call (APIG, IAM,
 * notification receivers): undici with a dispatcher passed in, one deadline
 * covering connect, headers and body, and a cap on how much of the answer is
 * read, so no peer can make us buffer without end.
 */
import { ResponseTooLargeError } from "../domain/errors";
export { ResponseTooLargeError };
import { type Dispatcher, parseHeaders } from "./undici";

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
 *
 * It drives undici's dispatcher with a handler of its own rather than
 * through undici's `request`, which wraps every answer in a Readable stream,
 * an AsyncResource and an abort listener: at 200 APIG queries a second that
 * was a large share of a poll's CPU. The answer is the same: the status, the
 * headers as `request` parses them (only when asked for), the body.
 */
export function requestCapped(url: string | URL, opts: CappedRequest): Promise<CappedResponse> {
  const u = typeof url === "string" ? new URL(url) : url;
  return new Promise<CappedResponse>((resolve, reject) => {
    let settled = false;
    let abort: ((reason: Error) => void) | null = null;
    /** Why the request is to end before its answer (a timeout or a too large body), once known. */
    let stop: Error | null = null;
    let status = 0;
    let raw: RawHeaders = [];
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (truncated: boolean) => {
      settled = true;
      clearTimeout(timer);
      resolve(capped(status, raw, chunks, truncated));
    };
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    /** End the request now with `reason`, whether or not it has a connection yet. */
    const end = (reason: Error) => {
      stop = reason;
      abort?.(reason);
    };
    // Covers connect and a slow trickle too, which undici's two timeouts do not.
    const timer = setTimeout(() => {
      const reason = new DOMException("The operation was aborted due to timeout", "TimeoutError");
      fail(reason);
      end(reason);
    }, opts.timeoutMs);
    timer.unref();
    const handler: Dispatcher.DispatchHandler = {
      onConnect(a: (reason: Error) => void) {
        if (stop !== null) return a(stop);
        abort = a;
      },
      onHeaders(statusCode: number, rawHeaders: RawHeaders) {
        // 1xx: an informational answer, the real one follows.
        if (statusCode < 200) return true;
        status = statusCode;
        raw = rawHeaders;
        return true;
      },
      onData(chunk: Buffer) {
        if (settled) return true;
        if (size + chunk.length > opts.maxBodyBytes) {
          if (opts.overflow === "fail") fail(new ResponseTooLargeError(status, opts.maxBodyBytes));
          else {
            chunks.push(chunk.subarray(0, opts.maxBodyBytes - size));
            finish(true);
          }
          // The rest is not read: the connection goes.
          end(new Error("answer over the size cap"));
          return false;
        }
        size += chunk.length;
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        if (!settled) finish(false);
      },
      onError(err: Error) {
        fail(err);
      },
    } as Dispatcher.DispatchHandler;
    try {
      opts.dispatcher.dispatch(
        {
          origin: u.origin,
          path: `${u.pathname}${u.search}`,
          method: opts.method,
          headers: opts.headers,
          ...(opts.body !== undefined ? { body: opts.body } : {}),
          headersTimeout: opts.timeoutMs,
          bodyTimeout: opts.timeoutMs,
        },
        handler,
      );
    } catch (err) {
      fail(err);
    }
  });
}

type RawHeaders = Array<Buffer | string | Array<Buffer | string>>;

/** The answer, its headers parsed only if someone reads them (a poll never does). */
function capped(status: number, raw: RawHeaders, chunks: Buffer[], truncated: boolean): CappedResponse {
  let headers: CappedResponse["headers"] | undefined;
  const body = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
  return {
    status,
    get headers() {
      return (headers ??= parseHeaders(raw));
    },
    body,
    truncated,
  };
}
