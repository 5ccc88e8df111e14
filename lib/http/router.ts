/**
 * The dispatcher of the HTTP API: finds the route (`routes.ts`), checks the
 * key, parses the path, query and body with the route's schemas, and calls
 * its handler. Transport-neutral: the Lambda handler (and through it the
 * local stack) translates API Gateway events to {@link HttpRequest}.
 */
import { errorText } from "../domain/error-text";
import type { ApiDeps } from "./api-deps";
import { authenticate } from "./auth";
import { thrownAnswer } from "./error-table";
import { HttpError, methodNotAllowed, notFound } from "./errors";
import type { HttpRequest, HttpResponse } from "./message";
import { type Route, ROUTES } from "./routes";
import { Id, parseJsonBody, parseOr400 } from "./schemas";

export type { HttpRequest, HttpResponse } from "./message";
export type { ApiDeps } from "./api-deps";
export { openApiDocument, ROUTES } from "./routes";

/**
 * Answer one HTTP request. Never throws: anything unexpected is logged and
 * becomes a plain 500 with no internals.
 */
export async function handleHttp(deps: ApiDeps, req: HttpRequest): Promise<HttpResponse> {
  try {
    return await route(deps, req);
  } catch (err) {
    const a = thrownAnswer(err);
    if (a.unexpected) deps.log.error("api_error", { method: req.method, path: req.path.slice(0, 200), error: errorText(err) });
    return a.response;
  }
}

/** Route paths as matchers: `{name}` is one path segment. */
const MATCHERS = ROUTES.map((r) => ({
  route: r,
  names: [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
  re: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, "([^/]+)").replace(/\./g, "\\.")}$`),
}));

async function route(deps: ApiDeps, req: HttpRequest): Promise<HttpResponse> {
  const path = req.path.replace(/\/+$/, "") || "/";
  const method = req.method.toUpperCase();
  const found = MATCHERS.filter((m) => served(deps, m.route)).flatMap((m) => {
    const hit = m.re.exec(path);
    return hit ? [{ route: m.route, names: m.names, values: hit.slice(1) }] : [];
  });
  if (found.length === 0) throw new HttpError(404, "not_found", "no such route");
  const match = found.find((f) => f.route.method === method);
  // Authentication before 405, so the routes a key opens stay unknown without one.
  const tenant = found.some((f) => f.route.auth) ? authenticate(deps.apiKeys, req.headers.authorization) : "";
  if (!match) throw methodNotAllowed();
  const params: Record<string, string> = {};
  match.names.forEach((name, i) => {
    params[name] = pathParam(match.values[i]!);
  });
  return match.route.handle({ deps, req, tenant, params, body: readBody(deps, req, match.route) });
}

/** Whether this function answers the route: a function serving a few routes (the read function, on its own URL too) knows no others. */
function served(deps: ApiDeps, r: Route): boolean {
  return !deps.servedRoutes || deps.servedRoutes.includes(`${r.method} ${r.path}`);
}

/** A route's body, parsed with the schema this deployment validates with; undefined for a route without one. */
function readBody(deps: ApiDeps, req: HttpRequest, r: Route): unknown {
  const schema = deps.allowPrivateTargets && r.privateBody ? r.privateBody : r.body;
  if (!schema) return undefined;
  if (r.bodyOptional && (req.body === null || req.body.length === 0)) return parseOr400(schema, {});
  return parseOr400(schema, parseJsonBody(req, r.maxBodyBytes));
}

/** A path segment that is no valid id names no watch. */
function pathParam(segment: string): string {
  let taskId: string;
  try {
    taskId = decodeURIComponent(segment);
  } catch {
    throw notFound();
  }
  if (!Id.safeParse(taskId).success) throw notFound();
  return taskId;
}

