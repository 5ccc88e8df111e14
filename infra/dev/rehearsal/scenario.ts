/**
 * What the rehearsal does with the stack: the schedule (EventBridge's
 * scheduled events to the poller, asynchronously, at the template's rate
 * or a shorter one), every route of the HTTP API through API Gateway v2
 * events (register, read, list with a cursor, `?wait=`, cancel, redeliver,
 * /imports, /exports, /health, /openapi.json), parallel requests, the
 * poller's fan-out to worker invocations, signed webhook deliveries, and
 * EventBridge events put as each function's role (eventbridge-steps.ts).
 * Each step that answers other than the product promises adds a failure.
 */
import { createHash, randomUUID } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { shardOf } from "../../../lib/store/item-codec";
import { apiGateway, functionUrls, type ApiAnswer, type ApiRequest } from "./api-gateway";
import type { Invocation } from "./containers";
import { type EventBridgeResult, eventBridgeSteps } from "./eventbridge-steps";
import type { AwsCall } from "./policy";
import { type RehearsalStack, TENANT } from "./stack";

export interface ScenarioOptions {
  /** Seconds between scheduled poller invocations (the template's POLL_INTERVAL_S unless shortened). */
  intervalS: number;
  /** Scheduled invocations after the idle one. */
  ticks: number;
}

export interface ScenarioResult {
  failures: string[];
  health: { status: number; body: unknown };
  idlePoller: Invocation | undefined;
  deliveries: { total: number; verified: number; redeliveredSameId: boolean };
  fanOut: { workersStarted: number; workerRuns: number };
  eventBridge: EventBridgeResult;
  /** Calls denied on purpose (a put to a bus outside the parameter): not failures. */
  expectedDenials: AwsCall[];
  routesHit: Record<string, number[]>;
}

const SPEC = JSON.stringify({ swagger: "2.0", info: { title: "rehearsal", version: "1" }, paths: { "/pets": { get: { responses: { "200": { description: "ok" } } } } } });

export async function runScenario(s: RehearsalStack, o: ScenarioOptions): Promise<ScenarioResult> {
  const failures: string[] = [];
  const fail = (m: string) => failures.push(m);
  const { stack, lambda } = s;
  const api = stack.functions.find((f) => f.handler.includes("api"))!;
  const poller = stack.functions.find((f) => stack.schedules[f.logicalId])!;
  const gw = apiGateway(lambda, (key) => stack.routeFunctions[key] || api.name, stack.routes, stack.stack);
  // The environment the containers run with: the template's, with the rehearsal's values over it.
  const env = { ...poller.environment, ...s.overrides };
  const region = api.environment.OTC_REGION || "eu-de";
  const auth = { authorization: `Bearer ${s.apiKey}` };
  const call = async (r: ApiRequest, want: number | number[]): Promise<ApiAnswer> => {
    const a = await gw.call(r);
    const ok = [want].flat();
    if (!ok.includes(a.status)) fail(`${r.method} ${r.path}${r.query ? "?" + new URLSearchParams(r.query) : ""} answered ${a.status}, not ${ok.join(" or ")}: ${a.body.slice(0, 300)}`);
    return a;
  };
  const post = (path: string, body: unknown, want: number | number[], query?: Record<string, string>) =>
    call({ method: "POST", path, headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body), ...(query ? { query } : {}) }, want);
  const scheduled = () => ({
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: stack.stack.accountId,
    time: new Date().toISOString(),
    region: stack.stack.region,
    resources: [`arn:${stack.stack.partition}:events:${stack.stack.region}:${stack.stack.accountId}:rule/${poller.name}-schedule`],
    detail: {},
  });

  // 1. The schedule's first invocation, with nothing registered: what an idle minute costs.
  const idlePoller = await lambda.invoke(poller.name, scheduled(), "event");
  if (!idlePoller.ok) fail(`idle poller invocation failed: ${JSON.stringify(idlePoller.error)}`);
  await call({ method: "GET", path: "/openapi.json" }, 200);
  await call({ method: "GET", path: "/health" }, 200);
  await call({ method: "GET", path: "/tasks" }, 401);

  // 2. Registrations: one watch with a signed webhook, one to cancel, and
  // watches in the first due shard, which the coordinator samples to size the fan-out.
  const watch = (taskId: string, notify: unknown[]) => ({ project_id: "p-rehearsal", instance_id: "i-rehearsal", task_id: taskId, region, notify, labels: { pipeline: "rehearsal" } });
  const hook = [{ type: "webhook", url: `${s.receiver.url}/hooks/apig`, secret: s.webhookSecret }];
  const eb = eventBridgeSteps(s, { post, fail, watch });
  await eb.register();
  const taskA = "rehearsal-a";
  s.apig.addTask({ projectId: "p-rehearsal", instanceId: "i-rehearsal", taskId: taskA, taskType: "import_api" });
  const registered = await post("/tasks", watch(taskA, hook), 201);
  await post("/tasks", watch(taskA, hook), 200);
  s.apig.addTask({ projectId: "p-rehearsal", instanceId: "i-rehearsal", taskId: "rehearsal-cancel" });
  await post("/tasks", watch("rehearsal-cancel", []), 201);
  await call({ method: "DELETE", path: "/tasks/rehearsal-cancel", headers: auth }, 200);
  const shardZero = Array.from({ length: 200 }, (_, i) => `rehearsal-fan-${i}`).filter((t) => shardOf({ tenant: TENANT, task_id: t }, Number(env.DUE_SHARDS || 16)) === "S#0").slice(0, 6);
  for (const t of shardZero) {
    s.apig.addTask({ projectId: "p-rehearsal", instanceId: "i-rehearsal", taskId: t });
    await post("/tasks", watch(t, []), 201);
  }

  // 3. The schedule from here on: an async invocation every interval
  // (overlapping allowed), at least `ticks` of them and until the traffic is done.
  const ticks: Array<Promise<Invocation>> = [];
  let stopped = false;
  let stop = () => {};
  const scheduleDone = new Promise<void>((done) => {
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      ticks.push(lambda.invoke(poller.name, scheduled(), "event"));
      if (stopped && ticks.length >= o.ticks) return done();
      timer = setTimeout(tick, o.intervalS * 1000);
    };
    stop = () => {
      stopped = true;
      if (ticks.length >= o.ticks) {
        clearTimeout(timer);
        done();
      }
    };
    tick();
  });

  // 4. Every other route, while the poller runs.
  await call({ method: "GET", path: `/tasks/${taskA}`, headers: auth }, 200);
  // The read function's own URL (READ_URL, the SSM parameter the stack
  // writes): registrations name it, it answers reads of the caller's
  // watches as the API does, and refuses everything else.
  const link = /<([^>]+)>\s*;\s*rel="monitor"/.exec(registered.headers.link ?? "")?.[1];
  if (!link) fail(`POST /tasks answered without Link rel="monitor" (READ_URL from SSM): ${JSON.stringify(registered.headers)}`);
  else {
    const byUrl = functionUrls(lambda, stack.functionUrls);
    const path = new URL(link).pathname;
    const read = await byUrl(link, { method: "GET", path, headers: auth });
    if (read.status !== 200 || read.json?.task_id !== taskA) fail(`GET ${link} answered ${read.status}: ${read.body.slice(0, 200)}`);
    const anonymous = await byUrl(link, { method: "GET", path });
    if (anonymous.status !== 401) fail(`GET ${link} without a key answered ${anonymous.status}, not 401`);
    const other = await byUrl(link, { method: "POST", path: "/tasks", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(watch("rehearsal-url", [])) });
    if (other.status !== 404) fail(`POST /tasks through the read URL answered ${other.status}, not 404: ${other.body.slice(0, 200)}`);
  }
  const page = await call({ method: "GET", path: "/tasks", headers: auth, query: { limit: "1" } }, 200);
  if (typeof page.json?.next_cursor !== "string") fail(`GET /tasks?limit=1 gave no next_cursor: ${page.body.slice(0, 200)}`);
  else await call({ method: "GET", path: "/tasks", headers: auth, query: { limit: "1", cursor: page.json.next_cursor } }, 200);
  const imported = await post("/imports", { project_id: "p-rehearsal", instance_id: "i-rehearsal", region, spec: SPEC, file_name: "pets.json", group_id: "g-rehearsal", notify: [] }, 201);
  const exported = await post("/exports", { project_id: "p-rehearsal", instance_id: "i-rehearsal", region, group_id: "g-rehearsal", env_id: "e-rehearsal", notify: [] }, 201);
  for (const [what, a] of [["import", imported], ["export", exported]] as const) if (a.status === 201 && typeof a.json?.task_id !== "string") fail(`POST /${what}s answered without a task_id`);
  await post("/imports/check", { project_id: "p-rehearsal", instance_id: "i-rehearsal", region, spec: SPEC, group_id: "g-rehearsal" }, 200);
  // Standing routes: one subscription, listed, then removed; a test send to the webhook receiver.
  await post("/subscriptions", { name: "rehearsal-failures", match: { outcome: ["failed"] }, notify: hook }, 201);
  await call({ method: "GET", path: "/subscriptions", headers: auth }, 200);
  await call({ method: "DELETE", path: "/subscriptions/rehearsal-failures", headers: auth }, 204);
  await post("/targets/test", { target: hook[0] }, 200);
  await eb.testSendAndProbe();

  // 5. A pipeline waiting for the end: ?wait= until terminal (each wait within APIG's 29 s).
  let ended: ApiAnswer | undefined;
  for (let i = 0; i < 4 && !ended; i++) {
    const a = await call({ method: "GET", path: `/tasks/${taskA}`, headers: auth, query: { wait: "25" } }, 200);
    if (a.json?.outcome) ended = a;
  }
  if (!ended) fail(`watch ${taskA} did not end within four ?wait=25 requests`);

  // 5b. The export's whole document from the read function: gzip in base64, its SHA-256 checked.
  const exportId = typeof exported.json?.task_id === "string" ? (exported.json.task_id as string) : null;
  let exportEnded = false;
  for (let i = 0; i < 3 && exportId !== null && !exportEnded; i++) {
    exportEnded = Boolean((await call({ method: "GET", path: `/tasks/${exportId}`, headers: auth, query: { wait: "25" } }, 200)).json?.outcome);
  }
  if (exportId !== null && exportEnded) {
    const doc = await call({ method: "GET", path: `/tasks/${exportId}/export`, headers: auth }, 200);
    const bytes = doc.isBase64Encoded ? gunzipSync(Buffer.from(doc.body, "base64")) : Buffer.alloc(0);
    if (doc.status === 200 && createHash("sha256").update(bytes).digest("hex") !== doc.headers["x-content-sha256"]) fail("GET /tasks/{task_id}/export: the document does not match its X-Content-SHA256");
  } else fail("the export watch did not end within three ?wait=25 requests");

  // 6. Parallel requests: separate containers, as Lambda scales out.
  await Promise.all(Array.from({ length: 3 }, () => call({ method: "GET", path: `/tasks/${taskA}`, headers: auth }, 200)));

  // 7. The webhook, verified; then redelivered with the same webhook-id.
  // (The test send of step 4 went to the same receiver: count only the watch's own.)
  const ofTaskA = () => s.receiver.deliveries.filter((d) => d.payload?.data?.task_id === taskA);
  const untilDelivered = async (n: number, deadline: number) => {
    while (ofTaskA().length < n && Date.now() < deadline) await s.receiver.waitFor(s.receiver.deliveries.length + 1, Math.min(deadline, Date.now() + 1000));
    return ofTaskA();
  };
  const first = await untilDelivered(1, Date.now() + 30_000);
  if (first.length < 1) fail("no webhook delivery for the finished watch within 30 s");
  // The watch with the EventBridge target ends with it (same APIG walk).
  await eb.arrived(Date.now() + 30_000);
  await post(`/tasks/${taskA}/redeliver`, {}, 202);
  // The poller sends it: at the latest at the next scheduled invocation, when the one running has ended idle.
  const waitS = o.intervalS + 30;
  const both = await untilDelivered(2, Date.now() + waitS * 1000);
  if (both.length < 2) fail(`no webhook redelivery within ${waitS} s`);
  const redeliveredSameId = both.length >= 2 && both[0]!.id === both[1]!.id;
  if (both.length >= 2 && !redeliveredSameId) fail("the redelivery had another webhook-id");
  for (const d of s.receiver.deliveries) if (!d.verified) fail(`a webhook delivery failed standardwebhooks verification: ${d.error}`);

  // 8. Let the schedule finish, and every invocation it started (fan-out workers too).
  stop();
  await scheduleDone;
  let seen = -1;
  while (seen !== ticks.length + s.asyncRuns.length) {
    seen = ticks.length + s.asyncRuns.length;
    await Promise.all([...ticks, ...s.asyncRuns]);
  }
  for (const t of [...(await Promise.all(ticks)), ...(await Promise.all(s.asyncRuns))]) {
    if (!t.ok && !t.timedOut) fail(`poller invocation failed: ${JSON.stringify(t.error)}`);
  }
  const workersStarted = (await Promise.all(ticks)).reduce((n, t) => n + Number(t.value?.workers ?? 0), 0);
  const workerRuns = (await Promise.all(s.asyncRuns)).filter((r) => r.value?.role === "worker").length;
  if (workersStarted === 0) fail("the scheduled poller never fanned out to a worker invocation");
  if (workerRuns !== workersStarted) fail(`${workersStarted} worker invocations started, ${workerRuns} ran`);

  // 9. /health as an uptime probe sees it: 200 "ok" (a container caches its answer for HEALTH_CACHE_S).
  let health = await gw.call({ method: "GET", path: "/health" });
  const until = Date.now() + (Number(env.HEALTH_CACHE_S || 12) + 5) * 1000;
  while (health.json?.status !== "ok" && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 1000));
    health = await gw.call({ method: "GET", path: "/health" });
  }
  if (health.status !== 200 || health.json?.status !== "ok") fail(`GET /health answered ${health.status} ${health.body.slice(0, 300)}`);

  // Every route of the template was exercised.
  const routesHit: Record<string, number[]> = {};
  for (const a of gw.answers) if (a.routeKey) (routesHit[a.routeKey] ??= []).push(a.status);
  for (const r of stack.routes) if (!routesHit[r]) fail(`route ${r} was not exercised`);
  for (const a of gw.answers) if (a.status >= 500) fail(`${a.method} ${a.path} answered ${a.status}`);

  return {
    failures,
    health: { status: health.status, body: health.json },
    idlePoller,
    deliveries: { total: s.receiver.deliveries.length, verified: s.receiver.deliveries.filter((d) => d.verified).length, redeliveredSameId },
    fanOut: { workersStarted, workerRuns },
    eventBridge: eb.result(),
    expectedDenials: eb.expectedDenials,
    routesHit,
  };
}
