/**
 * The local stack logs in the same shape as Lambda: one Powertools JSON
 * object per line, `task_id` and `tenant` on each line about a watch, and
 * LOG_LEVEL honoured. Runs `npm start` against the built-in simulator.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
let child: ChildProcess | undefined;
let receiver: Receiver | undefined;
const dataDir = mkdtempSync(join(tmpdir(), "taskwatch-logs-"));

afterAll(async () => {
  if (child && child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OTC_|API_KEYS|APIG_ENDPOINT|IAM_ENDPOINT|SLACK_WEBHOOK_URL|DEFAULT_WEBHOOK|SSM_PREFIX|DYNAMODB_ENDPOINT|TABLE_NAME|LOG_LEVEL|SERVICE_NAME|POWERTOOLS_|VITEST|NODE_ENV)/.test(k)) env[k] = v;
  }
  return { ...env, PORT: "0", DATA_DIR: dataDir, POLL_INTERVAL_S: "1", ALLOW_PRIVATE_TARGETS: "true", ...extra };
}

describe("npm start logs", () => {
  it("writes Powertools JSON lines with task_id and tenant on every line about a watch", async () => {
    receiver = await startReceiver();
    const proc = spawn("npm", ["start"], { env: cleanEnv({ SERVICE_NAME: "taskwatch-local", LOG_LEVEL: "debug" }), stdio: ["ignore", "pipe", "pipe"], detached: true });
    child = proc;
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const until = Date.now() + 60_000;
    while (!/HTTP API:\s+(\S+)/.test(out) || !/API key:\s+(\S+)/.test(out)) {
      if (proc.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
      if (Date.now() > until) throw new Error(`no start banner:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /HTTP API:\s+(\S+)/.exec(out)![1]!;
    const key = /API key:\s+(\S+)/.exec(out)![1]!;

    const res = await request(`${url}/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ project_id: "demo-project", instance_id: "demo-instance", task_id: "logs-task-1", notify: [{ type: "webhook", url: `${receiver.url}/hook`, secret: SECRET }] }),
    });
    expect(res.statusCode).toBe(201);
    await res.body.dump();
    await receiver.waitFor(1, 30_000);
    // The delivery's log line follows the receiver's answer.
    const lines = () => out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (let i = 0; i < 50 && !lines().some((l) => l.message === "delivery_delivered"); i++) await new Promise((r) => setTimeout(r, 100));
    process.kill(-proc.pid!, "SIGTERM");
    await new Promise((r) => proc.once("exit", r));

    const all = lines();
    expect(all.length).toBeGreaterThan(0);
    for (const l of all) {
      expect(l, JSON.stringify(l)).toMatchObject({ level: expect.stringMatching(/^(DEBUG|INFO|WARN|ERROR)$/), message: expect.any(String), service: "taskwatch-local" });
      expect(new Date(String(l.timestamp)).toISOString()).toBe(l.timestamp);
      expect(l).toHaveProperty("cold_start");
      if ("task_id" in l) expect(l, JSON.stringify(l)).toMatchObject({ tenant: "dev" });
    }
    const about = all.filter((l) => l.task_id === "logs-task-1").map((l) => l.message);
    expect(about).toContain("transition");
    expect(about).toContain("delivery_delivered");
    expect(out).not.toContain(SECRET);
  }, 120_000);
});
