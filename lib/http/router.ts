/**
 * The HTTP API: one route table (method, path, schemas, answers, handler)
 * that both dispatches requests and generates the OpenAPI document, plus the
 * translation between HTTP and the use cases. Transport-neutral: the Lambda
 * handler (and through it the local stack) translates API Gateway events to
 * {@link HttpRequest}.
 */
import { errorText } from "../domain/error-text";
import { InvalidCursorError, type TaskSubmitter } from "../app/ports";
import { cancelWatch } from "../app/cancel";
import type { WatchDeps } from "../app/process-watch";
import { redeliverWatch } from "../app/redeliver";
import { registerWatch, RegistrationConflictError, type TargetSpec } from "../app/register";
import { submitAndWatch, type SubmitAndWatchResult } from "../app/submit";
import type { HealthReport } from "../app/health-report";
import { labelsFrom } from "../domain/labels";
import { isTerminal } from "../domain/watch";
import { toView, WatchView } from "../domain/watch-view";
import * as z from "../domain/zod";
import type { ApiKeyHash } from "./auth";
import { authenticate } from "./auth";
import { errorResponse, HttpError, methodNotAllowed, notFound, unavailable, validationError } from "./errors";
import { ForbiddenProjectError } from "../app/scope";
import { type HttpRequest, type HttpResponse, json } from "./message";
import { buildOpenApi, type RouteDoc } from "./openapi";
import {
  ErrorBody,
  ExportRequest,
  HealthAnswer,
  Id,
  ImportRequest,
  ListQuery,
  MAX_IMPORT_BODY_BYTES,
  parseJsonBody,
  parseOr400,
  RedeliverRequest,
  RegistrationRequest,
  type RegistrationRequest as RegistrationBody,
  WaitQuery,
} from "./schemas";

export type { HttpRequest, HttpResponse } from "./message";

export interface ApiDeps extends WatchDeps {
  /** APIG's async-import and async-export, for `POST /imports` and `POST /exports`. */
  submitter: TaskSubmitter;
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
 * Answer one HTTP request. Never throws: anything unexpected (the table
 * failing, a bug) is logged and answers this request alone 503 `unavailable`,
 * retryable, with no internals.
 */
export async function handleHttp(deps: ApiDeps, req: HttpRequest): Promise<HttpResponse> {
  try {
    return await route(deps, req);
  } catch (err) {
    if (err instanceof HttpError && err.expose) return errorResponse(err);
    if (err instanceof ForbiddenProjectError) return errorResponse(new HttpError(403, err.code, err.message));
    deps.log.error("api_error", {
      method: req.method,
      path: req.path.slice(0, 200),
      error: errorText(err),
    });
    return unavailable();
  }
}

/**
 * What a handler gets: the request, its tenant ("" on routes that need no
 * key), its decoded path parameters and its body, parsed with the route's schema.
 */
interface RouteContext<B = unknown> {
  deps: ApiDeps;
  req: HttpRequest;
  tenant: string;
  params: Record<string, string>;
  body: B;
}

/** A documented route, how its body is read, and its handler. */
export interface Route extends RouteDoc {
  /** The body schema where private targets are allowed (`ALLOW_PRIVATE_TARGETS`); `body` elsewhere. */
  privateBody?: z.ZodMiniType;
  /** Body limit; 64 KiB unless said otherwise. */
  maxBodyBytes?: number;
  handle(ctx: RouteContext): Promise<HttpResponse>;
}

/**
 * A route whose handler sees its body typed by the route's own schema. The
 * router parses the body with that schema (see {@link readBody}) before it
 * calls the handler, which is what makes the one cast below hold.
 */
function defineRoute<S extends z.ZodMiniType = z.ZodMiniType>(
  def: Omit<Route, "body" | "privateBody" | "handle"> & {
    body?: S;
    privateBody?: S;
    handle(ctx: RouteContext<z.output<S>>): Promise<HttpResponse>;
  },
): Route {
  return { ...def, handle: (ctx) => def.handle(ctx as RouteContext<z.output<S>>) };
}

const WATCH_ERRORS = { 401: { description: "missing or unknown API key", schema: "Error" } } as const;
const BODY_ERRORS = {
  400: { description: "bad JSON or fields, each named in `issues`", schema: "Error" },
  413: { description: "body too large", schema: "Error" },
  415: { description: "body is not application/json", schema: "Error" },
} as const;
const FORBIDDEN = { 403: { description: "the API key may not use this `project_id` (`forbidden_project`); nothing was stored or asked", schema: "Error" } } as const;
const SUBMIT_ERRORS = {
  ...FORBIDDEN,
  422: { description: "APIG refused the request (`apig_rejected`, APIG's error in `apig`); nothing was registered", schema: "Error" },
  502: { description: "APIG could not be reached or kept failing (`apig_unavailable`); nothing was registered", schema: "Error" },
} as const;
const taskIdParam = { task_id: Id };

/** Answer schemas the routes name, published as the document's components. */
const COMPONENTS = {
  Watch: WatchView,
  WatchPage: z.object({ items: z.array(WatchView), next_cursor: z.nullable(z.string()) }),
  Error: ErrorBody,
  Health: HealthAnswer,
  OpenApiDocument: z.looseObject({ openapi: z.string() }),
};

/** Every route the API serves: the router dispatches on it, `GET /openapi.json` describes it. */
export const ROUTES: readonly Route[] = [
  defineRoute({
    method: "GET",
    path: "/health",
    operationId: "health",
    summary: "Liveness: 200 when the table answers, else 503",
    auth: false,
    responses: { 200: { description: "healthy", schema: "Health" }, 503: { description: "the table does not answer", schema: "Health" } },
    handle: async ({ deps }) => {
      const report = await deps.healthReport();
      return report === null ? json(503, { status: "unavailable", checks: { table: { status: "unavailable" } } }) : json(200, report);
    },
  }),
  defineRoute({
    method: "GET",
    path: "/openapi.json",
    operationId: "openapi",
    summary: "This document",
    auth: false,
    responses: { 200: { description: "the OpenAPI 3.1 document of this API", schema: "OpenApiDocument" } },
    handle: async () => json(200, openApiDocument()),
  }),
  defineRoute({
    method: "POST",
    path: "/tasks",
    operationId: "registerWatch",
    summary: "Register a watch on an APIG task; queries APIG at once",
    auth: true,
    body: RegistrationRequest.public,
    privateBody: RegistrationRequest.private,
    responses: {
      200: { description: "already registered with the same body", schema: "Watch" },
      201: { description: "registered", schema: "Watch" },
      ...BODY_ERRORS,
      ...WATCH_ERRORS,
      ...FORBIDDEN,
      409: { description: "the task id is watched with other settings", schema: "Error" },
    },
    handle: (c) => register(c.deps, c.tenant, c.body),
  }),
  defineRoute({
    method: "GET",
    path: "/tasks",
    operationId: "listWatches",
    summary: "The tenant's watches, newest first",
    auth: true,
    query: ListQuery,
    responses: { 200: { description: "a page", schema: "WatchPage" }, 400: { description: "bad query", schema: "Error" }, ...WATCH_ERRORS },
    handle: (c) => list(c.deps, c.tenant, c.req.query),
  }),
  defineRoute({
    method: "GET",
    path: "/tasks/{task_id}",
    operationId: "getWatch",
    summary: "One watch; with `wait`, answers as soon as it is terminal or after `wait` seconds",
    auth: true,
    params: taskIdParam,
    query: WaitQuery,
    responses: {
      200: { description: "the watch, terminal or not", schema: "Watch" },
      400: { description: "bad query", schema: "Error" },
      ...WATCH_ERRORS,
      404: { description: "no such watch", schema: "Error" },
    },
    handle: (c) => getWatch(c.deps, c.tenant, c.params.task_id!, c.req.query),
  }),
  defineRoute({
    method: "DELETE",
    path: "/tasks/{task_id}",
    operationId: "cancelWatch",
    summary: "Cancel a watch: it becomes `cancelled`, nothing is sent",
    auth: true,
    params: taskIdParam,
    responses: {
      200: { description: "cancelled", schema: "Watch" },
      ...WATCH_ERRORS,
      404: { description: "no such watch", schema: "Error" },
      409: { description: "it already ended otherwise", schema: "Error" },
    },
    handle: (c) => cancel(c.deps, c.tenant, c.params.task_id!),
  }),
  defineRoute({
    method: "POST",
    path: "/tasks/{task_id}/redeliver",
    operationId: "redeliver",
    summary: "Send a finished watch's notifications again, with the same webhook-id",
    auth: true,
    params: taskIdParam,
    body: RedeliverRequest,
    bodyOptional: true,
    responses: {
      202: { description: "the targets are pending again; the poller delivers them", schema: "Watch" },
      ...BODY_ERRORS,
      ...WATCH_ERRORS,
      404: { description: "no such watch", schema: "Error" },
      409: { description: "the watch is not finished, or was cancelled", schema: "Error" },
    },
    handle: (c) => redeliver(c.deps, c.tenant, c.params.task_id!, c.body),
  }),
  defineRoute({
    method: "POST",
    path: "/imports",
    operationId: "submitImport",
    summary: "Submit an OpenAPI document to APIG's async-import and watch the task",
    auth: true,
    body: ImportRequest.public,
    privateBody: ImportRequest.private,
    maxBodyBytes: MAX_IMPORT_BODY_BYTES,
    responses: { 201: { description: "submitted and watched", schema: "Watch" }, ...BODY_ERRORS, ...WATCH_ERRORS, ...SUBMIT_ERRORS },
    handle: (c) => submitImport(c.deps, c.tenant, c.body),
  }),
  defineRoute({
    method: "POST",
    path: "/exports",
    operationId: "submitExport",
    summary: "Ask APIG's async-export for a group's APIs and watch the task",
    auth: true,
    body: ExportRequest.public,
    privateBody: ExportRequest.private,
    responses: { 201: { description: "submitted and watched", schema: "Watch" }, ...BODY_ERRORS, ...WATCH_ERRORS, ...SUBMIT_ERRORS },
    handle: (c) => submitExport(c.deps, c.tenant, c.body),
  }),
];

/** Route paths as matchers: `{name}` is one path segment. */
const MATCHERS = ROUTES.map((r) => ({
  route: r,
  names: [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!),
  re: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, "([^/]+)").replace(/\./g, "\\.")}$`),
}));

let document: Record<string, unknown> | undefined;

/** The OpenAPI document of {@link ROUTES}, built once per process. */
export function openApiDocument(): Record<string, unknown> {
  document ??= buildOpenApi(ROUTES, COMPONENTS, {
    title: "apig-taskwatch",
    version: "1",
    description: "Watches APIG async import/export tasks and notifies Slack or signed webhooks when they end.",
  });
  return document;
}

async function route(deps: ApiDeps, req: HttpRequest): Promise<HttpResponse> {
  const path = req.path.replace(/\/+$/, "") || "/";
  const method = req.method.toUpperCase();
  const found = MATCHERS.flatMap((m) => {
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

/** A route's body, parsed with the schema this deployment validates with; undefined for a route without one. */
function readBody(deps: ApiDeps, req: HttpRequest, r: Route): unknown {
  const schema = deps.allowPrivateTargets && r.privateBody ? r.privateBody : r.body;
  if (!schema) return undefined;
  if (r.bodyOptional && (req.body === null || req.body.length === 0)) return parseOr400(schema, {});
  return parseOr400(schema, parseJsonBody(req, r.maxBodyBytes));
}

async function getWatch(deps: ApiDeps, tenant: string, taskId: string, query: HttpRequest["query"]): Promise<HttpResponse> {
  const { wait } = parseOr400(WaitQuery, query);
  const until = Date.now() + (wait ?? 0) * 1000;
  // Long-poll: consistent reads, spaced 250 ms growing to 1.5 s, so a watch
  // that ends is seen within 1.5 s while a 25 s wait costs about 20 reads.
  let pause = 250;
  for (;;) {
    const w = await deps.store.get(tenant, taskId);
    if (!w) throw notFound();
    const left = until - Date.now();
    if (isTerminal(w.status) || left <= 0) return json(200, toView(w));
    await new Promise((ok) => setTimeout(ok, Math.min(pause, left)));
    pause = Math.min(pause * 1.5, 1500);
  }
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

/** The targets a request names, in the use cases' terms; undefined when it names none. */
function targetsOf(notify: RegistrationBody["notify"]): TargetSpec[] | undefined {
  return notify?.map((n) =>
    n.type === "slack" ? { type: n.type, url: n.webhook_url } : { type: n.type, url: n.url, secret: n.secret },
  );
}

async function register(deps: ApiDeps, tenant: string, body: RegistrationBody): Promise<HttpResponse> {
  try {
    const r = await registerWatch(deps, tenant, { ...watchOf(deps, body), task_id: body.task_id });
    return json(r.created ? 201 : 200, toView(r.watch));
  } catch (err) {
    throw conflictOr(err);
  }
}

/** A registration conflict as a 409 naming each differing field; anything else as it is. */
function conflictOr(err: unknown): unknown {
  if (!(err instanceof RegistrationConflictError)) return err;
  return new HttpError(
    409,
    "conflict",
    err.message,
    err.fields.map((f) => ({ path: f, message: "differs from the watch already registered for this task_id" })),
  );
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

async function redeliver(deps: ApiDeps, tenant: string, taskId: string, body: z.output<typeof RedeliverRequest>): Promise<HttpResponse> {
  const r = await redeliverWatch(deps, tenant, taskId, body.targets);
  if (r.ok) return json(202, toView(r.watch));
  switch (r.reason) {
    case "not_found":
      throw notFound();
    case "unknown_targets":
      throw validationError([{ path: "targets", message: `no such target: ${r.ids.join(", ")}` }]);
    case "not_finished":
      throw new HttpError(409, "not_finished", `the watch is still ${r.watch.status}; nothing was sent yet`);
    case "cancelled":
      throw new HttpError(409, "cancelled", "the watch was cancelled; it owes no notification");
    case "busy":
      throw new HttpError(503, "busy", "the watch is changing; try again");
  }
}

/**
 * The watch a request asks for, from its watch options and this deployment's
 * defaults. A region this deployment does not serve is a 400 `unknown_region`:
 * it would be polled at the wrong endpoint.
 */
function watchOf(deps: ApiDeps, body: Pick<RegistrationBody, "project_id" | "instance_id" | "region" | "notify" | "labels" | "timeout_s">) {
  const region = body.region ?? deps.defaultRegion;
  if (!deps.regions.includes(region)) {
    const served = deps.regions.join(", ");
    throw new HttpError(400, "unknown_region", `region ${region} is not served here; served: ${served}`, [
      { path: "region", message: `must be one of: ${served}` },
    ]);
  }
  return {
    project_id: body.project_id,
    instance_id: body.instance_id,
    region,
    targets: targetsOf(body.notify) ?? deps.defaultTargets,
    labels: body.labels ?? labelsFrom([]),
    timeout_s: body.timeout_s ?? deps.defaultTimeoutS,
  };
}

function submitted(r: SubmitAndWatchResult): HttpResponse {
  if (r.ok) return json(201, toView(r.watch));
  if (r.kind === "rejected") {
    throw new HttpError(422, "apig_rejected", `APIG refused the request: ${r.error_code} ${r.error_msg}`.slice(0, 600), undefined, true, {
      http_status: r.http_status,
      error_code: r.error_code,
      error_msg: r.error_msg,
    });
  }
  throw new HttpError(502, "apig_unavailable", r.message);
}

async function submitImport(deps: ApiDeps, tenant: string, body: ImportRequest): Promise<HttpResponse> {
  const watch = watchOf(deps, body);
  // APIG's form fields: only what the caller set, so APIG's defaults apply to the rest.
  const fields: Record<string, string> = {};
  for (const k of ["is_create_group", "group_id", "extend_mode", "simple_mode", "mock_mode", "api_mode"] as const) {
    const v = body[k];
    if (v !== undefined) fields[k] = String(v);
  }
  // A document that starts with `{` is JSON, anything else is taken for YAML.
  const fileName = body.file_name ?? (body.spec.trimStart().startsWith("{") ? "openapi.json" : "openapi.yaml");
  const r = await submitAndWatch(
    deps,
    tenant,
    (credentialSet) => deps.submitter.submitImport({ region: watch.region, credentialSet, projectId: body.project_id, instanceId: body.instance_id, fileName, spec: body.spec, fields }),
    watch,
  );
  return submitted(r);
}

async function submitExport(deps: ApiDeps, tenant: string, body: ExportRequest): Promise<HttpResponse> {
  const watch = watchOf(deps, body);
  const apig: Record<string, unknown> = { env_id: body.env_id, group_id: body.group_id };
  for (const k of ["define", "type", "version", "apis"] as const) if (body[k] !== undefined) apig[k] = body[k];
  const r = await submitAndWatch(
    deps,
    tenant,
    (credentialSet) =>
      deps.submitter.submitExport({
        region: watch.region,
        credentialSet,
        projectId: body.project_id,
        instanceId: body.instance_id,
        body: apig,
        ...(body.oas_version !== undefined ? { oasVersion: body.oas_version } : {}),
      }),
    watch,
  );
  return submitted(r);
}
