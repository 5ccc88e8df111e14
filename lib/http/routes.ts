/**
 * The route table: method, path, schemas, answers and handler of every route,
 * which both the dispatcher (`router.ts`) and the OpenAPI document read.
 */
import * as z from "../domain/zod";
import type { ApiDeps } from "./api-deps";
import { cancel, getWatch, list, redeliver, register, submitExport, submitImport } from "./handlers";
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
  RedeliverRequest,
  RegistrationRequest,
  WaitQuery,
} from "./schemas";
import { WatchView } from "../domain/watch-view";
import { SUBSCRIPTION_COMPONENTS, SUBSCRIPTION_ROUTES } from "./subscription-routes";
import { importCheckRoute } from "./import-check-route";
import { exportRoute } from "./export-route";
import { ImportCheck } from "../domain/import-finding";

/**
 * What a handler gets: the request, its tenant ("" on routes that need no
 * key), its decoded path parameters and its body, parsed with the route's schema.
 */
export interface RouteContext<B = unknown> {
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
  ImportCheck,
  ...SUBSCRIPTION_COMPONENTS,
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
    summary: "One watch, with `Retry-After` (seconds to its next poll) while it runs; `wait` (0 to 25) says a client waits: polled every 2 s, answered when terminal or after `wait` seconds",
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
  exportRoute,
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
    responses: {
      201: { description: "submitted and watched", schema: "Watch" },
      ...BODY_ERRORS,
      ...WATCH_ERRORS,
      ...SUBMIT_ERRORS,
      422: {
        description: "the document breaks an APIG import rule (`spec_rejected`, the findings in `check`), or APIG refused it (`apig_rejected`); nothing was registered",
        schema: "Error",
      },
    },
    handle: (c) => submitImport(c.deps, c.tenant, c.body),
  }),
  importCheckRoute,
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
  ...SUBSCRIPTION_ROUTES,
];

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

