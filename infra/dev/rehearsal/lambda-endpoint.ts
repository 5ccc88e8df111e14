/**
 * Lambda's Invoke API for the rehearsal (`POST /2015-03-31/functions/{name}/invocations`):
 * verifies the SigV4 signature, checks `lambda:InvokeFunction` on the
 * function's ARN against the caller's role, and runs the invocation in a
 * container of that function: `Event` answers 202 at once (the run goes on,
 * as Lambda's async queue would), `RequestResponse` answers with the result.
 */
import type { Invocation, LambdaService } from "./containers";
import type { Authorizer } from "./policy";
import type { Stack } from "./template";
import { awsJsonError, listenLoopback, readBody } from "./http-util";
import { verifySigV4 } from "./sigv4";

export interface LambdaEndpointOptions {
  stack: Stack;
  auth: Authorizer;
  lambda: LambdaService;
  fnOfKey: (accessKeyId: string) => string;
  secretOf: (accessKeyId: string) => string | undefined;
  /** Every asynchronous run started here, to await at the end. */
  started: Array<Promise<Invocation>>;
}

export async function startLambdaEndpoint(o: LambdaEndpointOptions) {
  return listenLoopback(async (req, res) => {
    const body = await readBody(req);
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(new URL(req.url ?? "/", "http://x").pathname);
    if (req.method !== "POST" || !m) return awsJsonError(res, 404, "UnknownOperationException", "rehearsal: not an Invoke request", "application/json");
    const sig = verifySigV4({ method: "POST", url: req.url ?? "/", headers: req.headers, body }, { service: "lambda", region: o.stack.region, secretOf: o.secretOf });
    if (!sig.ok) return awsJsonError(res, 403, "InvalidSignatureException", `rehearsal: ${sig.reason}`, "application/json");
    const fn = o.lambda.spec(decodeURIComponent(m[1]!));
    const resource = fn?.arn ?? `arn:${o.stack.partition}:lambda:${o.stack.region}:${o.stack.accountId}:function:${decodeURIComponent(m[1]!)}`;
    const call = await o.auth.check({ accessKeyId: sig.accessKeyId, fn: o.fnOfKey(sig.accessKeyId), action: "lambda:InvokeFunction", resource });
    if (!call.allowed) return awsJsonError(res, 403, "AccessDeniedException", `User: ${call.role} is not authorized to perform: lambda:InvokeFunction on resource: ${resource}`, "application/json");
    if (!fn) return awsJsonError(res, 404, "ResourceNotFoundException", `Function not found: ${resource}`, "application/json");
    let event: unknown;
    try {
      event = JSON.parse(body.toString("utf8") || "{}");
    } catch {
      return awsJsonError(res, 400, "InvalidRequestContentException", "Could not parse request body into json", "application/json");
    }
    const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
    if (type === "Event") {
      // Accepted first, run after: Lambda queues the event before any container starts.
      res.writeHead(202, { "content-type": "application/json" });
      res.end();
      o.started.push(new Promise<void>((ok) => setImmediate(ok)).then(() => o.lambda.invoke(fn.name, event, "event")));
      return;
    }
    const r = await o.lambda.invoke(fn.name, event, "sync");
    res.writeHead(r.throttled ? 429 : 200, { "content-type": "application/json", ...(r.ok ? {} : { "x-amz-function-error": "Unhandled" }) });
    res.end(JSON.stringify(r.ok ? r.value : r.error));
  });
}
