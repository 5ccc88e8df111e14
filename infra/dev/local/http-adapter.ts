/**
 * A node:http server that turns each request into an API Gateway HTTP API
 * (payload v2) event and hands it to the same Lambda handler AWS runs.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
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

/** An HTTP server in front of `handler`. */
export function createLambdaHttpServer(handler: Handler): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_READ) {
        if (!refused) {
          refused = true;
          res.writeHead(413, { "content-type": "application/json", connection: "close" });
          res.end(JSON.stringify({ error: { code: "payload_too_large", message: `body over ${MAX_READ} bytes` } }));
          req.destroy();
        }
        return;
      }
      chunks.push(c);
    });
    req.on("error", () => undefined);
    req.on("end", () => {
      if (refused) return;
      const event = toEvent(req, Buffer.concat(chunks));
      handler(event, localContext(event.requestContext.requestId))
        .then((out) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(out.headers ?? {})) headers[k] = String(v);
          res.writeHead(out.statusCode ?? 200, headers);
          res.end(out.body === undefined ? "" : Buffer.from(out.body, out.isBase64Encoded ? "base64" : "utf8"));
        })
        .catch(() => {
          // Lambda would answer 500 for a handler that throws; so do we.
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ message: "Internal Server Error" }));
        });
    });
  });
}
