/**
 * A node:http server that turns each request into an API Gateway HTTP API
 * (payload v2) event and hands it to the same Lambda handler AWS runs.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";

/**
 * API Gateway refuses payloads over 10 MB (and Lambda events over 6 MB);
 * refuse earlier here, above the handler's own limits (64 KiB, 5 MiB for
 * `POST /imports`), so the handler answers those itself.
 */
const MAX_READ = 6 * 1024 * 1024;

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The invocation context Lambda would pass, so log lines carry the same
 * request id and function keys locally as in AWS.
 */
function localContext(requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "apig-taskwatch-local-api",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:local:000000000000:function:apig-taskwatch-local-api",
    memoryLimitInMB: "512",
    awsRequestId: requestId,
    logGroupName: "local",
    logStreamName: "local",
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Build the v2 event API Gateway would send for this request. */
export function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const method = (req.method ?? "GET").toUpperCase();
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: "local",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: body.toString("base64"), isBase64Encoded: true } : { isBase64Encoded: false }),
  };
}

/** Options of {@link createLambdaHttpServer}. */
export interface AdapterOptions {
  /**
   * Whether a request's `authorization` header carries a known API key. When
   * given, a body past {@link UNAUTHENTICATED_READ} bytes is read only with a
   * known key: without one the request is answered 401 and the connection
   * closed, so unauthenticated uploads cannot make the stack buffer megabytes.
   */
  authorized?: (authorization: string | undefined) => boolean;
  /** A handler that has not answered by then is answered 503 `unavailable` (default 30 s, past the longest `?wait=`). */
  answerWithinMs?: number;
}

/** What any route's body may be without a key (the 64 KiB of every route but `POST /imports`). */
export const UNAUTHENTICATED_READ = 64 * 1024;

const jsonError = (res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}) => {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json", ...extra });
  res.end(JSON.stringify({ error: { code, message } }));
};

/**
 * An HTTP server in front of `handler`. One request's fault never reaches
 * another: a handler that throws, or never answers, answers that request 503
 * `unavailable` (retryable, `Retry-After`), and the server keeps serving.
 */
export function createLambdaHttpServer(handler: Handler, opts: AdapterOptions = {}): Server {
  const answerWithinMs = opts.answerWithinMs ?? 30_000;
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = (status: number, code: string, message: string) => {
      refused = true;
      chunks.length = 0;
      jsonError(res, status, code, message, { connection: "close" });
      req.destroy();
    };
    // A declared large body is refused before a byte of it is read.
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > UNAUTHENTICATED_READ && opts.authorized && !opts.authorized(req.headers.authorization)) {
      refuse(401, "unauthorized", "missing or unknown API key");
      return;
    }
    req.on("data", (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > UNAUTHENTICATED_READ && opts.authorized && !opts.authorized(req.headers.authorization)) {
        return refuse(401, "unauthorized", "missing or unknown API key");
      }
      if (size > MAX_READ) return refuse(413, "payload_too_large", `body over ${MAX_READ} bytes`);
      chunks.push(c);
    });
    req.on("error", () => undefined);
    req.on("end", () => {
      if (refused) return;
      const event = toEvent(req, Buffer.concat(chunks));
      chunks.length = 0;
      const unavailable = () =>
        jsonError(res, 503, "unavailable", "temporarily unavailable; try again", { "retry-after": "1" });
      const late = setTimeout(unavailable, answerWithinMs);
      late.unref();
      let answer: Promise<APIGatewayProxyStructuredResultV2>;
      try {
        answer = handler(event, localContext(event.requestContext.requestId));
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer
        .then((out) => {
          if (res.headersSent || res.destroyed) return;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(out.headers ?? {})) headers[k] = String(v);
          res.writeHead(out.statusCode ?? 200, headers);
          res.end(out.body === undefined ? "" : Buffer.from(out.body, out.isBase64Encoded ? "base64" : "utf8"));
        })
        // A handler that throws (Lambda would answer 500): this request alone is unavailable.
        .catch(unavailable)
        .finally(() => clearTimeout(late));
    });
  });
}
