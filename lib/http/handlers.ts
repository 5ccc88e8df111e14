/**
 * HTTP <-> use cases: each handler takes a parsed request, calls one use case
 * and shapes its answer; failures go through the one table in `error-table.ts`.
 */
import { cancelWatch } from "../app/cancel";
import { readWatch } from "../app/read-watch";
import { redeliverWatch } from "../app/redeliver";
import { registerWatch } from "../app/register";
import type { TargetSpec } from "../domain/target";
import { submitCheckedImport } from "../app/checked-import";
import { submitExport as submitExportTask } from "../app/submit";
import { watchOptions } from "../app/watch-options";
import { toView } from "../domain/watch-view";
import { withImportLists } from "../app/import-lists";
import { isTerminal, type Watch } from "../domain/watch";
import type * as z from "../domain/zod";
import type { ApiDeps } from "./api-deps";
import { valueOr } from "./error-table";
import { specOf } from "./import-check-route";
import { targetSpecsOf } from "./target-request";
import { type HttpRequest, type HttpResponse, json } from "./message";
import {
  type ExportRequest,
  type ImportRequest,
  ListQuery,
  parseOr400,
  type RedeliverRequest,
  type RegistrationRequest,
  WaitQuery,
} from "./schemas";

/** The targets a request names, in the use cases' terms; undefined when it names none. A bus not allowed here is a 400. */
function targetsOf(deps: ApiDeps, notify: RegistrationRequest["notify"]): TargetSpec[] | undefined {
  return notify && targetSpecsOf(notify, deps.eventBusArns ?? []);
}

/** The watch options of a request that creates a watch, with the deployment's defaults. */
function optionsOf(deps: ApiDeps, body: Pick<RegistrationRequest, "project_id" | "instance_id" | "region" | "notify" | "labels" | "timeout_s">) {
  return valueOr(watchOptions(deps, { ...body, targets: targetsOf(deps, body.notify) })).value;
}

/** A watch as answered: its import lists read back from beside it when they are kept there. */
const viewOf = async (deps: ApiDeps, w: Watch) => toView(await withImportLists(deps, w));

/**
 * A watch as an answer. While it is open, `Link: rel="monitor"` names where
 * a client reads it without API Gateway (the read function's own URL), when
 * the deployment has one: the CLI's waits go there.
 */
async function watchAnswer(deps: ApiDeps, status: number, watch: Watch): Promise<HttpResponse> {
  const res = json(status, await viewOf(deps, watch));
  if (deps.readUrl && !isTerminal(watch.status)) res.headers["link"] = `<${deps.readUrl}/tasks/${encodeURIComponent(watch.task_id)}>; rel="monitor"`;
  return res;
}

export async function register(deps: ApiDeps, tenant: string, body: RegistrationRequest): Promise<HttpResponse> {
  const r = valueOr(await registerWatch(deps, tenant, { ...optionsOf(deps, body), task_id: body.task_id }));
  return watchAnswer(deps, r.created ? 201 : 200, r.watch);
}

export async function list(deps: ApiDeps, tenant: string, query: HttpRequest["query"]): Promise<HttpResponse> {
  const q = parseOr400(ListQuery, query);
  const { page } = valueOr(await deps.store.list(tenant, q));
  return json(200, { items: await Promise.all(page.items.map((w) => viewOf(deps, w))), next_cursor: page.nextCursor });
}

export async function getWatch(deps: ApiDeps, tenant: string, taskId: string, query: HttpRequest["query"]): Promise<HttpResponse> {
  const { wait } = parseOr400(WaitQuery, query);
  const r = valueOr(await readWatch(deps, tenant, taskId, wait === undefined ? {} : { waitS: wait }));
  const res = await watchAnswer(deps, 200, r.watch);
  if (r.retryAfterS !== null) res.headers["retry-after"] = String(r.retryAfterS);
  return res;
}

export async function cancel(deps: ApiDeps, tenant: string, taskId: string): Promise<HttpResponse> {
  return json(200, await viewOf(deps, valueOr(await cancelWatch(deps, tenant, taskId)).watch));
}

export async function redeliver(deps: ApiDeps, tenant: string, taskId: string, body: z.output<typeof RedeliverRequest>): Promise<HttpResponse> {
  return json(202, await viewOf(deps, valueOr(await redeliverWatch(deps, tenant, taskId, body.targets)).watch));
}

export async function submitImport(deps: ApiDeps, tenant: string, body: ImportRequest): Promise<HttpResponse> {
  const r = valueOr(await submitCheckedImport(deps, tenant, optionsOf(deps, body), { ...body, spec: specOf(body) }));
  return watchAnswer(deps, 201, r.watch);
}

export async function submitExport(deps: ApiDeps, tenant: string, body: ExportRequest): Promise<HttpResponse> {
  const r = valueOr(await submitExportTask(deps, tenant, optionsOf(deps, body), body));
  return watchAnswer(deps, 201, r.watch);
}
