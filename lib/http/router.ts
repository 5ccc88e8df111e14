/**
 * The HTTP API: routes, authentication and translation between HTTP and the
 * use cases (register, read, list, cancel). Transport-neutral: the Lambda
 * handler (and through it the local stack) translates API Gateway events to
 * {@link HttpRequest}.
 */
import { errorText } from "../domain/error-text";
import { InvalidCursorError } from "../app/ports";
import { cancelWatch } from "../app/cancel";
import type { WatchDeps } from "../app/process-watch";
import type { HealthReport } from "../app/health-report";
import { registerWatch, RegistrationConflictError, type TargetSpec } from "../app/register";
import { labelsFrom } from "../domain/labels";
import { toView } from "../domain/watch-view";
import type { ApiKeyHash } from "../platform/config";
import { authenticate } from "./auth";
import { errorResponse, HttpError, methodNotAllowed, notFound, validationError } from "./errors";
import { type HttpRequest, type HttpResponse, json } from "./message";
import { Id, ListQuery, parseJsonBody, parseOr400, RegistrationRequest } from "./schemas";

export type { HttpRequest, HttpResponse } from "./message";

export interface ApiDeps extends WatchDeps {
  apiKeys: ApiKeyHash[];
  allowPrivateTargets: boolean;
  defaultRegion: string;
  defaultTimeoutS: number;
  defaultTargets: TargetSpec[];
  /** The regions served; a registration for any other is refused. */
  regions: string[];
  /** The `GET /health` report (cached per container), or null when the table does not answer. */
  healthReport: () => Promise<HealthReport | null>;
}

/**
 * Answer one HTTP request. Never throws: anything unexpected is logged and
 * becomes a plain 500 with no internals.
 */
export async function handleHttp(deps: ApiDeps, req: HttpRequest): Promise<HttpResponse> {
  try {
    return await route(deps, req);
  } catch (err) {
    if (err instanceof HttpError && err.expose) return errorResponse(err);
    deps.log.error("api_error", {
      method: req.method,
      path: req.path.slice(0, 200),
      error: errorText(err),
    });
    return errorResponse(new HttpError(500, "internal_error", "internal error"));
  }
}

async function route(deps: ApiDeps, req: HttpRequest): Promise<HttpResponse> {
  const path = req.path.replace(/\/+$/, "") || "/";
  const method = req.method.toUpperCase();

  if (path === "/health") {
    if (method !== "GET") throw methodNotAllowed();
    const report = await deps.healthReport();
    return report === null ? json(503, { status: "unavailable", checks: { table: { status: "unavailable" } } }) : json(200, report);
  }

  const isList = path === "/tasks";
  const one = /^\/tasks\/([^/]+)$/.exec(path);
  if (!isList && !one) throw new HttpError(404, "not_found", "no such route");

  const tenant = authenticate(deps.apiKeys, req.headers.authorization);

  if (isList) {
    if (method === "POST") return register(deps, tenant, req);
    if (method === "GET") return list(deps, tenant, req.query);
    throw methodNotAllowed();
  }
  const taskId = taskIdOf(one![1]!);
  if (method === "GET") {
    const w = await deps.store.get(tenant, taskId);
    if (!w) throw notFound();
    return json(200, toView(w));
  }
  if (method === "DELETE") return cancel(deps, tenant, taskId);
  throw methodNotAllowed();
}

/** A path segment that is no valid task id names no watch. */
function taskIdOf(segment: string): string {
  let taskId: string;
  try {
    taskId = decodeURIComponent(segment);
  } catch {
    throw notFound();
  }
  if (!Id.safeParse(taskId).success) throw notFound();
  return taskId;
}

async function register(deps: ApiDeps, tenant: string, req: HttpRequest): Promise<HttpResponse> {
  const schema = deps.allowPrivateTargets ? RegistrationRequest.private : RegistrationRequest.public;
  const body = parseOr400(schema, parseJsonBody(req));
  const requested: TargetSpec[] | undefined = body.notify?.map((n) =>
    n.type === "slack" ? { type: n.type, url: n.webhook_url } : { type: n.type, url: n.url, secret: n.secret },
  );

  const region = body.region ?? deps.defaultRegion;
  if (!deps.regions.includes(region)) {
    const served = deps.regions.join(", ");
    throw new HttpError(400, "unknown_region", `region ${region} is not served here; served: ${served}`, [
      { path: "region", message: `must be one of: ${served}` },
    ]);
  }
  try {
    const r = await registerWatch(deps, tenant, {
      project_id: body.project_id,
      instance_id: body.instance_id,
      task_id: body.task_id,
      region,
      targets: requested ?? deps.defaultTargets,
      labels: body.labels ?? labelsFrom([]),
      timeout_s: body.timeout_s ?? deps.defaultTimeoutS,
    });
    return json(r.created ? 201 : 200, toView(r.watch));
  } catch (err) {
    if (err instanceof RegistrationConflictError) {
      throw new HttpError(
        409,
        "conflict",
        err.message,
        err.fields.map((f) => ({ path: f, message: "differs from the watch already registered for this task_id" })),
      );
    }
    throw err;
  }
}

async function list(deps: ApiDeps, tenant: string, query: HttpRequest["query"]): Promise<HttpResponse> {
  const q = parseOr400(ListQuery, query);
  try {
    const page = await deps.store.list(tenant, q);
    return json(200, { items: page.items.map(toView), next_cursor: page.nextCursor });
  } catch (err) {
    if (err instanceof InvalidCursorError) throw validationError([{ path: "cursor", message: err.message }]);
    throw err;
  }
}

async function cancel(deps: ApiDeps, tenant: string, taskId: string): Promise<HttpResponse> {
  const r = await cancelWatch(deps, tenant, taskId);
  if (r.ok) return json(200, toView(r.watch));
  if (r.reason === "not_found") throw notFound();
  if (r.reason === "already_finished") {
    throw new HttpError(409, "already_finished", `the watch already ended as ${r.watch.status}`);
  }
  throw new HttpError(503, "busy", "the watch is changing; try again");
}
