/**
 * Detection latency of the real handlers on the deployed 60 s schedule: the
 * poller handler invoked once a minute (as EventBridge would, never
 * overlapping), registrations through the API handler, the APIG simulator
 * answering after 200 ms, a webhook receiver noting arrivals. Background
 * watches of mixed age make up the open set. Every DynamoDB request goes
 * through the capacity proxy, so the same run yields the units a watch's
 * life costs.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { startCapacityProxy } from "../../infra/dev/capacity-proxy";
import { writeUnits } from "../../infra/dev/capacity-meter";
import { pollerTiming } from "../../lib/app/timing";
import { createPollerHandler } from "../../lib/platform/poller-handler";
import { schedulePoller } from "../../infra/dev/local/poller-schedule";
import { API_KEY, handlerEnv, percentile, seedRunning, startReceiver, startStack } from "./stack";

export interface DetectionResult {
  tasks: number;
  notified: number;
  openWatches: number;
  p50S: number;
  p99S: number;
  maxS: number;
  /** Write / read units per measured watch life (register -> processing -> succeed, one webhook). */
  writeUnitsPerLife: number;
  readUnitsPerLife: number;
  meanTaskS: number;
  polls: number;
  runS: number;
}

const rand = (() => {
  let s = 7;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
})();

export async function runDetection(o: { background: number; tasks: number; latencyMs: number; log: (s: string) => void }): Promise<DetectionResult> {
  const stack = await startStack({ latencyMs: o.latencyMs });
  const proxy = await startCapacityProxy(stack.dynamoEndpoint);
  const receiver = await startReceiver();
  const env = handlerEnv({ ...stack, dynamoEndpoint: proxy.url }, { POLL_INTERVAL_S: "60", APIG_TIMEOUT_MS: "10000" });
  Object.assign(process.env, env);
  // Background: open watches registered up to 30 minutes ago, still running.
  await seedRunning(stack, o.background, { prefix: "bg", ageMs: (i) => (i / o.background) * 30 * 60_000, dueShards: 16 });
  const api = await import("../../functions/api");
  const poller = await import("../../functions/poller");
  const { lambdaTimeoutS } = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });

  const started = Date.now();
  let polls = 0;
  // As Lambda runs it: an invocation that starts while the last still runs (the handover) gets another container.
  const polling = schedulePoller({
    first: poller.handler,
    more: () => createPollerHandler(process.env),
    intervalMs: 60_000,
    lambdaTimeoutS,
    event: { source: "aws.events" },
    onSummary: (s) => void (polls += s.polls),
  });

  // The measured tasks: registered over the first minute, each ending 20 to 150 s later.
  const ends = new Map<string, number>();
  const lifeS: number[] = [];
  const registrations: Array<Promise<void>> = [];
  let lives = 0;
  for (let i = 0; i < o.tasks; i++) {
    const delay = rand() * 60_000;
    const duration = 20_000 + rand() * 130_000;
    registrations.push(
      new Promise<void>((r) => setTimeout(r, delay)).then(async () => {
        const taskId = `m-${i}`;
        const endsAt = Date.now() + duration;
        stack.sim.addTask({
          projectId: "p",
          instanceId: "i",
          taskId,
          states: [{ status: "processing", until: endsAt }, { status: "succeed", result: '{"success":[{"id":"a","method":"GET","path":"/pets","action":"create"}],"failure":[]}' }],
        });
        ends.set(taskId, endsAt);
        lifeS.push(duration / 1000);
        const body = JSON.stringify({
          project_id: "p",
          instance_id: "i",
          task_id: taskId,
          notify: [{ type: "webhook", url: `${receiver.url}/hook`, secret: `whsec_${Buffer.alloc(32, 9).toString("base64")}` }],
        });
        const res = await api.handler(apiEvent("POST", "/tasks", body));
        if (res.statusCode !== 201) throw new Error(`registration answered ${res.statusCode}: ${res.body}`);
        lives++;
      }),
    );
  }
  await Promise.all(registrations);
  const deadline = started + 6 * 60_000;
  while (receiver.arrivals.size < o.tasks && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    if ((Date.now() - started) % 30_000 < 500) o.log(`  detection: ${receiver.arrivals.size}/${o.tasks} notified after ${Math.round((Date.now() - started) / 1000)} s`);
  }
  // Let the deliveries' outcome writes land before counting.
  await new Promise((r) => setTimeout(r, 2_000));
  await polling.stop();
  const runS = (Date.now() - started) / 1000;

  const latencies = [...ends].filter(([id]) => receiver.arrivals.has(id)).map(([id, end]) => (receiver.arrivals.get(id)! - end) / 1000);
  // Background watches never change: every write belongs to a measured life. Reads are shared
  // (full reads, pickups): charge the measured watches their share of watch-time.
  const measuredWatchS = lifeS.reduce((a, b) => a + b, 0);
  const share = measuredWatchS / (measuredWatchS + o.background * runS);
  const totals = proxy.totals;
  const result: DetectionResult = {
    tasks: o.tasks,
    notified: latencies.length,
    openWatches: o.background + o.tasks,
    p50S: percentile(latencies, 50),
    p99S: percentile(latencies, 99),
    maxS: Math.max(...latencies),
    writeUnitsPerLife: writeUnits(totals) / lives,
    readUnitsPerLife: (totals.read * share) / lives,
    meanTaskS: measuredWatchS / lives,
    polls,
    runS,
  };
  await receiver.close();
  await proxy.close();
  await stack.close();
  return result;
}

function apiEvent(method: string, path: string, body: string): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: "",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    requestContext: { http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "bench" } },
    body,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}
