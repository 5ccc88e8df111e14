/**
 * The HTTP API's use cases: register, read, list and cancel watches, behind
 * per-tenant bearer keys. Transport-neutral: the Lambda handler (and through
 * it the local stack) translates API Gateway events to {@link HttpRequest}.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { ApiKeyHash } from "../platform/config";
import { checkTargetUrl } from "../notify/ssrf-guard";
import { InvalidCursorError } from "../store/watch-repository";
import { type NotifyTarget, transition, WATCH_STATUSES, type Watch } from "../domain/watch";
import { processWatch, type WatchDeps } from "../app/tick";
import { toView } from "../domain/watch-view";
import { parseWebhookSecret } from "../notify/webhook-signature";

export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpRequest {
  method: string;
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  body: Buffer | null;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface ApiDeps extends WatchDeps {
  apiKeys: ApiKeyHash[];
  allowPrivateTargets: boolean;
  defaultRegion: string;
  defaultTimeoutS: number;
  defaultTargets: Array<Pick<NotifyTarget, "type" | "url" | "secret">>;
}

/** An error meant for the client: `expose`d ones show their message, others become a bare 500. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: Array<{ path: string; message: string }>,
    readonly expose = true,
  ) {
    super(message);
  }
}

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "must be 1-64 letters, digits, '-' or '_'");

const registrationSchema = z
  .object({
    project_id: id,
    instance_id: id,
    task_id: id,
    region: z
      .string()
      .regex(/^[a-z]{2}-[a-z0-9-]{1,24}$/, "must look like eu-de")
      .optional(),
    notify: z
      .array(
        z.discriminatedUnion("type", [
          z.object({ type: z.literal("slack"), webhook_url: z.string().max(2048) }).strict(),
          z.object({ type: z.literal("webhook"), url: z.string().max(2048), secret: z.string().max(200) }).strict(),
        ]),
      )
      .max(10)
      .optional(),
    labels: z
      .record(z.string().regex(/^[A-Za-z0-9_.:/-]{1,64}$/, "label names are 1-64 of [A-Za-z0-9_.:/-]"), z.string().max(256))
      .refine((l) => Object.keys(l).length <= 20, "at most 20 labels")
      .optional(),
    timeout_s: z
      .number()
      .int()
      .min(60)
      .max(30 * 86400)
      .optional(),
  })
  .strict();

const listSchema = z.object({
  status: z.enum(WATCH_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(2048).optional(),
});

const json = (statusCode: number, body: unknown): HttpResponse => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

function errorResponse(err: HttpError): HttpResponse {
  return json(err.statusCode, {
    error: { code: err.code, message: err.message, ...(err.issues ? { issues: err.issues } : {}) },
  });
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
      error: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : "unknown",
    });
    return errorResponse(new HttpError(500, "internal_error", "internal error"));
  }
}

async function route(deps: ApiDeps, req: HttpRequest): Promise<HttpResponse> {
  const path = req.path.replace(/\/+$/, "") || "/";
  const method = req.method.toUpperCase();

  if (path === "/health") {
    if (method !== "GET") throw methodNotAllowed();
    try {
      await deps.store.ping();
      return json(200, { status: "ok" });
    } catch {
      return json(503, { status: "unavailable" });
    }
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
  let taskId: string;
  try {
    taskId = decodeURIComponent(one![1]!);
  } catch {
    throw new HttpError(404, "not_found", "no such watch");
  }
  if (!id.safeParse(taskId).success) throw new HttpError(404, "not_found", "no such watch");
  if (method === "GET") {
    const w = await deps.store.get(tenant, taskId);
    if (!w) throw new HttpError(404, "not_found", "no such watch");
    return json(200, toView(w));
  }
  if (method === "DELETE") return cancel(deps, tenant, taskId);
  throw methodNotAllowed();
}

const methodNotAllowed = () => new HttpError(405, "method_not_allowed", "method not allowed on this route");

/**
 * Bearer key -> tenant. Every configured hash is compared, in constant time,
 * so the answer time does not tell which tenant's key was close.
 */
export function authenticate(keys: ApiKeyHash[], header: string | undefined): string {
  const m = header === undefined ? null : /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
  if (!m) throw new HttpError(401, "unauthorized", "missing or malformed Authorization: Bearer <api key>");
  const presented = createHash("sha256").update(m[1]!).digest();
  let tenant: string | null = null;
  for (const k of keys) {
    if (timingSafeEqual(presented, k.hash) && tenant === null) tenant = k.tenant;
  }
  if (tenant === null) throw new HttpError(401, "unauthorized", "unknown API key");
  return tenant;
}

function parseBody(req: HttpRequest): unknown {
  const body = req.body ?? Buffer.alloc(0);
  if (body.length > MAX_BODY_BYTES) throw new HttpError(413, "payload_too_large", `body over ${MAX_BODY_BYTES} bytes`);
  const type = req.headers["content-type"];
  if (type !== undefined && !/^application\/(.+\+)?json\b/i.test(type.trim())) {
    throw new HttpError(415, "unsupported_media_type", "send the body as application/json");
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "invalid_json", "body is not valid JSON");
  }
}

function validationError(issues: Array<{ path: string; message: string }>): HttpError {
  return new HttpError(400, "validation_failed", "request has invalid fields", issues);
}

async function register(deps: ApiDeps, tenant: string, req: HttpRequest): Promise<HttpResponse> {
  const parsed = registrationSchema.safeParse(parseBody(req));
  if (!parsed.success) {
    throw validationError(
      parsed.error.issues.map((i) => ({
        path: i.path.map(String).join(".") || (i.code === "unrecognized_keys" ? i.keys.join(",") : ""),
        message: i.message,
      })),
    );
  }
  const body = parsed.data;

  const issues: Array<{ path: string; message: string }> = [];
  const targets: NotifyTarget[] = [];
  const requested =
    body.notify?.map((n) =>
      n.type === "slack" ? { type: n.type, url: n.webhook_url } : { type: n.type, url: n.url, secret: n.secret },
    ) ?? deps.defaultTargets;
  requested.forEach((n, i) => {
    const field = body.notify ? (n.type === "slack" ? `notify.${i}.webhook_url` : `notify.${i}.url`) : null;
    if (field !== null) {
      const check = checkTargetUrl(n.url, { allowPrivate: deps.allowPrivateTargets });
      if (!check.ok) issues.push({ path: field, message: check.message });
      if (n.type === "webhook") {
        const s = parseWebhookSecret(n.secret ?? "");
        if (!s.ok) issues.push({ path: `notify.${i}.secret`, message: s.message });
      }
    }
    targets.push({
      id: `t${i}`,
      type: n.type,
      url: n.url,
      ...(n.secret !== undefined ? { secret: n.secret } : {}),
      state: "pending",
      attempts: 0,
      last_error: null,
      next_attempt_at: null,
      delivered_at: null,
    });
  });
  if (issues.length > 0) throw validationError(issues);

  const now = deps.clock();
  const at = now.toISOString();
  const watch: Watch = {
    tenant,
    task_id: body.task_id,
    project_id: body.project_id,
    instance_id: body.instance_id,
    region: body.region ?? deps.defaultRegion,
    status: "registered",
    task_type: null,
    created_at: at,
    updated_at: at,
    finished_at: null,
    deadline_at: new Date(now.getTime() + (body.timeout_s ?? deps.defaultTimeoutS) * 1000).toISOString(),
    history: [{ status: "registered", at }],
    result: null,
    last_error: null,
    not_found_since: null,
    labels: body.labels ?? {},
    targets,
    event_id: null,
    version: 0,
  };

  const created = await deps.store.create(watch);
  if (!created.created) {
    const e = created.existing;
    if (e.project_id !== watch.project_id || e.instance_id !== watch.instance_id) {
      throw new HttpError(409, "conflict", "this task_id is already watched for another project_id or instance_id");
    }
    return json(200, toView(e));
  }
  // The first query happens now, so a task that is already done is reported
  // without waiting for the next tick. Its failure must not fail the
  // registration: the watch is stored and the poller will carry on.
  try {
    const r = await processWatch(deps, created.watch);
    return json(201, toView(r.watch));
  } catch (err) {
    deps.log.warn("first_poll_failed", {
      task_id: watch.task_id,
      error: err instanceof Error ? err.message.slice(0, 300) : "unknown",
    });
    return json(201, toView(created.watch));
  }
}

async function list(deps: ApiDeps, tenant: string, query: HttpRequest["query"]): Promise<HttpResponse> {
  const q = listSchema.safeParse(query);
  if (!q.success) {
    throw validationError(q.error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })));
  }
  try {
    const page = await deps.store.list(tenant, q.data);
    return json(200, { items: page.items.map(toView), next_cursor: page.nextCursor });
  } catch (err) {
    if (err instanceof InvalidCursorError) throw validationError([{ path: "cursor", message: err.message }]);
    throw err;
  }
}

async function cancel(deps: ApiDeps, tenant: string, taskId: string): Promise<HttpResponse> {
  // A tick may write between our read and our write; re-read and try again.
  for (let i = 0; i < 5; i++) {
    const w = await deps.store.get(tenant, taskId);
    if (!w) throw new HttpError(404, "not_found", "no such watch");
    if (w.status === "cancelled") return json(200, toView(w));
    const t = transition(w, { type: "cancel" }, deps.clock(), deps.rules);
    if (!t.changed) throw new HttpError(409, "already_finished", `the watch already ended as ${w.status}`);
    const saved = await deps.store.save(t.next);
    if (saved !== "conflict") return json(200, toView(saved));
  }
  throw new HttpError(503, "busy", "the watch is changing; try again");
}
