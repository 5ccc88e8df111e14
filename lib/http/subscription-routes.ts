/**
 * The routes of subscriptions (`POST/GET /subscriptions`,
 * `DELETE /subscriptions/{name}`) and of the test send (`POST /targets/test`):
 * handlers that translate HTTP to the use cases in `app/subscriptions.ts` and
 * `app/test-target.ts`. The router serves them with its own table.
 */
import { createSubscription, MAX_SUBSCRIPTIONS, SubscriptionBusyError, type SubscriptionRepository } from "../app/subscriptions";
import { sendTestNotification } from "../app/test-target";
import { LabelsInput } from "../domain/labels";
import { MatchOutcome, type Subscription, SubscriptionName } from "../domain/subscription";
import { TaskType } from "../domain/watch";
import { redactUrl } from "../domain/watch-view";
import * as z from "../domain/zod";
import { HttpError, notFound } from "./errors";
import { json, type HttpResponse } from "./message";
import type { ApiDeps } from "./api-deps";
import type { Route, RouteContext } from "./routes";
import { notifyRequest } from "./target-request";
import { targetSpecsOf } from "./target-request";

const subscriptionRequest = (allowPrivate: boolean) =>
  z.strictObject({
    name: SubscriptionName,
    match: z._default(
      z.strictObject({
        outcome: z.optional(z.array(MatchOutcome).check(z.maxLength(6))),
        task_type: z.optional(z.array(TaskType).check(z.maxLength(2))),
        labels: z.optional(LabelsInput),
      }),
      {},
    ),
    notify: z.array(notifyRequest(allowPrivate)).check(z.minLength(1), z.maxLength(10)),
  });

/** `POST /subscriptions`. */
export const SubscriptionRequest = { public: subscriptionRequest(false), private: subscriptionRequest(true) } as const;
type SubscriptionBody = z.infer<(typeof SubscriptionRequest)["public"]>;

const testRequest = (allowPrivate: boolean) => z.strictObject({ target: notifyRequest(allowPrivate) });
/** `POST /targets/test`. */
export const TargetTestRequest = { public: testRequest(false), private: testRequest(true) } as const;
type TargetTestBody = z.infer<(typeof TargetTestRequest)["public"]>;

/** A target as a subscription shows it: never its secret, routing key or full URL. */
const TargetShown = z.object({
  type: z.string(),
  /** Scheme and host of the URL; the bus ARN of an EventBridge target. */
  url: z.string(),
  format: z.optional(z.string()),
  dedup_label: z.optional(z.string()),
});

/** A subscription as the API shows it. */
export const SubscriptionView = z.object({
  name: z.string(),
  match: z.object({
    outcome: z.optional(z.array(z.string())),
    task_type: z.optional(z.array(z.string())),
    labels: z.optional(z.record(z.string(), z.string())),
  }),
  notify: z.array(TargetShown),
  created_at: z.string(),
});

/** Answer schemas these routes name, for the document's components. */
export const SUBSCRIPTION_COMPONENTS = {
  Subscription: SubscriptionView,
  SubscriptionList: z.object({ items: z.array(SubscriptionView) }),
  TargetTestResult: z.object({ ok: z.literal(true), status: z.number(), sent_at: z.string(), duration_ms: z.number() }),
  TargetFailed: z.object({
    error: z.object({
      code: z.literal("target_failed"),
      message: z.string(),
      receiver: z.object({ status: z.nullable(z.number()), body: z.string(), sent_at: z.string(), duration_ms: z.number() }),
    }),
  }),
};

export function toSubscriptionView(s: Subscription): z.infer<typeof SubscriptionView> {
  return {
    name: s.name,
    match: {
      ...(s.match.outcome !== undefined ? { outcome: s.match.outcome } : {}),
      ...(s.match.task_type !== undefined ? { task_type: s.match.task_type } : {}),
      ...(s.match.labels !== undefined ? { labels: { ...s.match.labels } } : {}),
    },
    notify: s.targets.map((t) => ({
      type: t.type,
      url: t.type === "eventbridge" ? t.url : redactUrl(t.url),
      ...(t.format !== undefined ? { format: t.format } : {}),
      ...(t.dedup_label !== undefined ? { dedup_label: t.dedup_label } : {}),
    })),
    created_at: s.created_at,
  };
}

/** The router parses each body with the route's own schema, which is what makes the cast hold. */
function typed<S extends z.ZodMiniType>(def: Omit<Route, "handle" | "body" | "privateBody"> & { body?: S; privateBody?: S; handle(c: RouteContext<z.output<S>>): Promise<HttpResponse> }): Route {
  return { ...def, handle: (c) => def.handle(c as RouteContext<z.output<S>>) };
}

const AUTH = { 401: { description: "missing or unknown API key", schema: "Error" } } as const;
const BODY = {
  400: { description: "bad JSON or fields, each named in `issues` (also: an EventBridge bus not in EVENTBRIDGE_BUS_ARNS)", schema: "Error" },
  413: { description: "body too large", schema: "Error" },
  415: { description: "body is not application/json", schema: "Error" },
} as const;

function repoOf(deps: ApiDeps): SubscriptionRepository {
  const repo = deps.subscriptions;
  if (!repo) throw new HttpError(503, "unavailable", "subscriptions are not configured here");
  // A change that kept losing to concurrent ones is a retryable 503, never a 500.
  const busy = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    try {
      return await f(...a);
    } catch (err) {
      if (err instanceof SubscriptionBusyError) throw new HttpError(503, "busy", err.message);
      throw err;
    }
  };
  return { create: busy((s) => repo.create(s)), list: (t) => repo.list(t), delete: busy((t, n) => repo.delete(t, n)) };
}

/** Subscriptions and the test send, for the router's table. */
export const SUBSCRIPTION_ROUTES: readonly Route[] = [
  typed({
    method: "POST",
    path: "/subscriptions",
    operationId: "createSubscription",
    summary: "Create a standing notification route: the targets of every terminal watch it matches",
    auth: true,
    body: SubscriptionRequest.public,
    privateBody: SubscriptionRequest.private,
    responses: {
      200: { description: "already exists with the same body", schema: "Subscription" },
      201: { description: "created", schema: "Subscription" },
      ...BODY,
      ...AUTH,
      409: { description: "a subscription of that name exists with another body (`conflict`), or the tenant has the most it may (`limit_reached`)", schema: "Error" },
    },
    handle: async ({ deps, tenant, body }) => createHandler(deps, tenant, body),
  }),
  typed({
    method: "GET",
    path: "/subscriptions",
    operationId: "listSubscriptions",
    summary: "The tenant's subscriptions, by name",
    auth: true,
    responses: { 200: { description: "every subscription of the tenant", schema: "SubscriptionList" }, ...AUTH },
    handle: async ({ deps, tenant }) => {
      const subs = await repoOf(deps).list(tenant);
      return json(200, { items: subs.map(toSubscriptionView) });
    },
  }),
  typed({
    method: "DELETE",
    path: "/subscriptions/{name}",
    operationId: "deleteSubscription",
    summary: "Delete a subscription; watches that already ended keep the targets it added",
    auth: true,
    params: { name: SubscriptionName },
    responses: { 204: { description: "deleted" }, ...AUTH, 404: { description: "no such subscription", schema: "Error" } },
    handle: async ({ deps, tenant, params }) => {
      const name = params.name!;
      if (!SubscriptionName.safeParse(name).success || !(await repoOf(deps).delete(tenant, name))) throw notFound("no such subscription");
      return { statusCode: 204, headers: {}, body: "" };
    },
  }),
  typed({
    method: "POST",
    path: "/targets/test",
    operationId: "testTarget",
    summary: "Send a sample `task.test` notification to a target now",
    auth: true,
    body: TargetTestRequest.public,
    privateBody: TargetTestRequest.private,
    responses: {
      200: { description: "the receiver accepted it: its status and when it was sent", schema: "TargetTestResult" },
      ...BODY,
      ...AUTH,
      422: { description: "the receiver refused it or did not answer (`target_failed`): its status and the first 200 bytes it answered", schema: "TargetFailed" },
    },
    handle: async ({ deps, tenant, body }) => testHandler(deps, tenant, body),
  }),
];

async function createHandler(deps: ApiDeps, tenant: string, body: SubscriptionBody): Promise<HttpResponse> {
  const targets = targetSpecsOf(body.notify, deps.eventBusArns ?? []);
  const match = {
    ...(body.match.outcome !== undefined ? { outcome: body.match.outcome } : {}),
    ...(body.match.task_type !== undefined ? { task_type: body.match.task_type } : {}),
    ...(body.match.labels !== undefined ? { labels: body.match.labels } : {}),
  };
  const r = await createSubscription(repoOf(deps), tenant, { name: body.name, match, targets }, deps.clock());
  if (!r.ok && r.reason === "limit") throw new HttpError(409, "limit_reached", `a tenant may have at most ${MAX_SUBSCRIPTIONS} subscriptions`);
  if (!r.ok) throw new HttpError(409, "conflict", `a subscription named ${body.name} exists with another body`);
  return json(r.created ? 201 : 200, toSubscriptionView(r.subscription));
}

async function testHandler(deps: ApiDeps, tenant: string, body: TargetTestBody): Promise<HttpResponse> {
  const [spec] = targetSpecsOf([body.target], deps.eventBusArns ?? [], "target");
  const r = await sendTestNotification(deps, tenant, spec!);
  if (r.ok) return json(200, r);
  return json(422, {
    error: {
      code: "target_failed",
      message: `the target did not accept the test notification: ${r.error}`.slice(0, 400),
      receiver: { status: r.status, body: r.body, sent_at: r.sent_at, duration_ms: r.duration_ms },
    },
  });
}
