/**
 * The kill-and-restart chaos run against the real local stack: watches are
 * registered against an APIG simulator that throws 5xx, resets and stalls,
 * notifications go to a receiver that fails and hangs, and `npm start` is
 * killed with SIGKILL at random moments and started again on the same data
 * directory. At the end every watch must have reached the end its task has,
 * every task's notification must have arrived (one `webhook-id` per task),
 * and nothing may still be polled.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { type ApigSimulator, startApigSimulator } from "./apig-simulator";
import { cleanEnv, killHard, type RunningStack, startStack } from "./local/stack-process";

export interface ChaosOptions {
  watches: number;
  kills: number;
  /** Longest the run may take to settle after the last kill. */
  settleMs: number;
  /** Share of receiver answers that fail (500) or hang. */
  receiverFailRate?: number;
  receiverHangRate?: number;
  /** Share of APIG queries answered with a fault. */
  apigFaultRate?: number;
  log?: (line: string) => void;
  /** Told each stack's whole output when it is killed (for diagnosis). */
  stackOutput?: (output: string) => void;
  seed?: number;
}

export interface ChaosReport {
  watches: number;
  kills: number;
  restarts: number;
  lost: string[];
  wrong: string[];
  stuck: string[];
  notNotified: string[];
  /** Tasks whose notifications carried more than one webhook-id. */
  multipleIds: string[];
  duplicateDeliveries: number;
  pollsAfterEnd: number;
  /** Index entries the start-up repair found out of step, summed over restarts. */
  indexEntriesRepaired: number;
  durationMs: number;
}

const API_KEY = "chaos-key-0123456789";
const SIM_TOKEN = "chaos-sim-token";
const sha256 = async (s: string) => (await import("node:crypto")).createHash("sha256").update(s).digest("hex");

/** Deterministic random numbers from a seed (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const random = rng(opts.seed ?? Date.now());
  const log = opts.log ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), "taskwatch-chaos-"));
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const sim: ApigSimulator = await startApigSimulator({ auth: { tokens: [SIM_TOKEN] } });

  // The receiver: records webhook-ids per task; fails or hangs now and then.
  const ids = new Map<string, Set<string>>();
  let deliveries = 0;
  const hanging = new Set<import("node:http").ServerResponse>();
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = random();
      if (r < (opts.receiverHangRate ?? 0.05)) {
        // Hangs, then drops the connection without an answer. (A receiver
        // that hangs for the sender's whole 15 s holds up the local tick that
        // long: see the report of issue 9.)
        hanging.add(res);
        setTimeout(() => res.destroy(), 2_000);
        return;
      }
      if (r < (opts.receiverHangRate ?? 0.05) + (opts.receiverFailRate ?? 0.15)) {
        res.writeHead(500).end("flaky");
        return;
      }
      deliveries++;
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data: { task_id: string } };
      const set = ids.get(body.data.task_id) ?? new Set<string>();
      set.add(String(req.headers["webhook-id"]));
      ids.set(body.data.task_id, set);
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((ok) => receiver.listen(0, "127.0.0.1", () => ok()));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  // Tasks: most succeed, some fail, some go through APIG faults first.
  const expected = new Map<string, "succeed" | "failed">();
  for (let i = 0; i < opts.watches; i++) {
    const id = `chaos-${i}`;
    const end = random() < 0.8 ? "succeed" : "failed";
    expected.set(id, end);
    const result = end === "succeed" ? '{"group_id":"g","success":[],"failure":[]}' : '{"error_code":"APIG.3201","error_msg":"x"}';
    sim.addTask({ projectId: "p", instanceId: "i", taskId: id, states: [{ status: "waiting" }, { status: "processing" }, { status: end, result }] });
    if (random() < (opts.apigFaultRate ?? 0.3)) {
      const faults = [
        { status: 500, body: '{"error_code":"APIG.9008","error_msg":"throttled"}' },
        { status: 503, body: "" },
        { reset: true as const },
        { delayMs: 1500 },
      ];
      sim.script(id, Array.from({ length: 1 + Math.floor(random() * 3) }, () => faults[Math.floor(random() * faults.length)]!));
    }
  }

  const env = cleanEnv({
    DATA_DIR: dataDir,
    POLL_INTERVAL_S: "1",
    BACKOFF_CAP_S: "2",
    APIG_TIMEOUT_MS: "1000",
    OTC_AUTH_TOKEN: SIM_TOKEN,
    APIG_ENDPOINT: sim.url,
    IAM_ENDPOINT: sim.url,
    ALLOW_PRIVATE_TARGETS: "true",
    API_KEYS: `chaos:${await sha256(API_KEY)}`,
    NOTIFY_RETRY_S: "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
  });

  let stack: RunningStack | null = await startStack(env);
  let restarts = 0;
  let repairedEntries = 0;
  const restart = async () => {
    stack = await startStack(env);
    restarts++;
  };
  const kill = async () => {
    if (!stack) return;
    opts.stackOutput?.(stack.output());
    repairedEntries += Number(/(\d+) index entries repaired/.exec(stack.output())?.[1] ?? 0);
    killHard(stack.proc);
    await new Promise<void>((r) => (stack!.proc.exitCode !== null || stack!.proc.signalCode !== null ? r() : stack!.proc.once("exit", () => r())));
    stack = null;
  };

  const call = async (method: "GET" | "POST", path: string, body?: unknown) => {
    if (!stack) throw new Error("down");
    const res = await request(stack.url + path, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  };

  // Register every task from a few concurrent clients while the stack is
  // killed at random moments; a registration cut off by a kill is sent again
  // after the restart (a repeat answers 200 with the same watch).
  const queue = [...expected.keys()];
  let registered = 0;
  const client = async () => {
    for (;;) {
      const id = queue.shift();
      if (id === undefined) return;
      try {
        const r = await call("POST", "/tasks", { project_id: "p", instance_id: "i", task_id: id, notify: [{ type: "webhook", url: hookUrl, secret }] });
        if (r.status !== 200 && r.status !== 201) throw new Error(`registration answered ${r.status}`);
        registered++;
      } catch {
        queue.push(id);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const clients = Promise.all(Array.from({ length: 8 }, client));
  for (let k = 0; k < opts.kills; k++) {
    const after = 500 + random() * 3500;
    await new Promise((r) => setTimeout(r, after));
    await kill();
    log(`kill ${k + 1}/${opts.kills} after ${Math.round(after)} ms; registered ${registered}/${opts.watches}`);
    await restart();
  }
  await clients;

  // Settle: every watch terminal and every delivery done, or the deadline passes.
  const views = new Map<string, Record<string, unknown>>();
  const until = Date.now() + opts.settleMs;
  const done = (v: Record<string, unknown> | undefined) =>
    v !== undefined && v.outcome !== null && (v.notify as Array<{ state: string }>).every((t) => t.state === "delivered");
  while (Date.now() < until) {
    for (const id of expected.keys()) {
      if (done(views.get(id))) continue;
      try {
        const r = await call("GET", `/tasks/${id}`);
        if (r.status === 200) views.set(id, r.json);
        else views.delete(id);
      } catch {
        // retry
      }
    }
    if ([...expected.keys()].every((id) => done(views.get(id)))) break;
    await new Promise((r) => setTimeout(r, 500));
  }

  // Nothing may still be polled once everything has ended.
  const before = sim.requests.length;
  await new Promise((r) => setTimeout(r, 2500));
  const pollsAfterEnd = sim.requests.length - before;

  const lost: string[] = [];
  const wrong: string[] = [];
  const stuck: string[] = [];
  const notNotified: string[] = [];
  for (const [id, end] of expected) {
    const v = views.get(id);
    if (!v) lost.push(id);
    else if (v.outcome === null) stuck.push(id);
    else if (v.status !== end) wrong.push(id);
    if (!ids.has(id)) notNotified.push(id);
  }
  const multipleIds = [...ids].filter(([, s]) => s.size !== 1).map(([id]) => id);

  await kill();
  for (const res of hanging) res.destroy();
  receiver.closeAllConnections();
  await new Promise<void>((ok) => receiver.close(() => ok()));
  await sim.close();
  rmSync(dataDir, { recursive: true, force: true });

  return {
    watches: opts.watches,
    kills: opts.kills,
    restarts,
    lost,
    wrong,
    stuck,
    notNotified,
    multipleIds,
    duplicateDeliveries: deliveries - ids.size,
    pollsAfterEnd,
    indexEntriesRepaired: repairedEntries,
    durationMs: Date.now() - started,
  };
}
