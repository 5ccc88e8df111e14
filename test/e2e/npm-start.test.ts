/**
 * `npm start` as a newcomer runs it: no configuration at all, then drive the
 * printed API over HTTP until a task's notification arrives, then SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { type Receiver, startReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

let child: ChildProcess | undefined;
let receiver: Receiver | undefined;
const dataDir = mkdtempSync(join(tmpdir(), "taskwatch-e2e-"));

afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OTC_|API_KEYS|APIG_ENDPOINT|IAM_ENDPOINT|SLACK_WEBHOOK_URL|DEFAULT_WEBHOOK|SSM_PREFIX|DYNAMODB_ENDPOINT|TABLE_NAME|VITEST|NODE_ENV)/.test(k)) env[k] = v;
  }
  // The deployed schedule (60 s) on purpose: a registration is still noticed within seconds.
  return { ...env, PORT: "0", DATA_DIR: dataDir, ALLOW_PRIVATE_TARGETS: "true" };
}

async function startApp(): Promise<{ proc: ChildProcess; output: () => string; url: string; key: string }> {
  // detached: its own process group, so the whole tree can be signalled like a terminal would.
  const proc = spawn("npm", ["start"], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 60_000;
  while (!/HTTP API:\s+(\S+)/.test(out) || !/API key:\s+(\S+)/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
    if (Date.now() > until) throw new Error(`no start banner:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, output: () => out, url: /HTTP API:\s+(\S+)/.exec(out)![1]!, key: /API key:\s+(\S+)/.exec(out)![1]! };
}

/** SIGTERM to the process group, as a terminal or a process manager would; true when the app says it stopped cleanly. */
async function stop(proc: ChildProcess, output: () => string): Promise<boolean> {
  process.kill(-proc.pid!, "SIGTERM");
  const until = Date.now() + 20_000;
  while (proc.exitCode === null && proc.signalCode === null) {
    if (Date.now() > until) throw new Error("did not stop after SIGTERM");
    await new Promise((r) => setTimeout(r, 50));
  }
  // npm itself may die of the signal; the app underneath must have shut down on its own terms.
  return output().includes("stopped cleanly") && (proc.exitCode === 0 || proc.signalCode === "SIGTERM");
}

describe("npm start", () => {
  it("serves the API, polls the simulator, delivers the notification, stops on SIGTERM", async () => {
    receiver = await startReceiver();
    const app = await startApp();
    child = app.proc;
    expect(app.output()).toContain("APIG simulator");

    const health = await request(`${app.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();

    const res = await request(`${app.url}/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.key}`, "content-type": "application/json" },
      body: JSON.stringify({
        project_id: "demo-project",
        instance_id: "demo-instance",
        task_id: "e2e-task-1",
        notify: [{ type: "webhook", url: `${receiver.url}/hook`, secret: SECRET }],
      }),
    });
    expect(res.statusCode).toBe(201);
    await res.body.dump();

    const registeredAt = Date.now();
    const [hit] = await receiver.waitFor(1, 30_000);
    // Picked up by the running invocation (every 5 s) and polled every 2 s while young.
    expect(hit!.at - registeredAt).toBeLessThan(15_000);
    const payload = new Webhook(SECRET.slice("whsec_".length)).verify(hit!.body, {
      "webhook-id": String(hit!.headers["webhook-id"]),
      "webhook-timestamp": String(hit!.headers["webhook-timestamp"]),
      "webhook-signature": String(hit!.headers["webhook-signature"]),
    }) as { type: string; data: { task_id: string; history: Array<{ status: string }> } };
    expect(payload.type).toBe("task.succeeded");
    expect(payload.data.task_id).toBe("e2e-task-1");
    expect(payload.data.history.map((h) => h.status)).toEqual(["registered", "waiting", "processing", "succeed"]);

    // The receiver may answer before the delivery's outcome is written back.
    let state: string | undefined;
    for (let i = 0; i < 50 && state !== "delivered"; i++) {
      const got = await request(`${app.url}/tasks/e2e-task-1`, { headers: { authorization: `Bearer ${app.key}` } });
      state = ((await got.body.json()) as { notify: Array<{ state: string }> }).notify[0]?.state;
      if (state !== "delivered") await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe("delivered");

    expect(await stop(app.proc, app.output)).toBe(true);
    const output = app.output();
    expect(output).not.toContain(SECRET);
    expect(output).not.toMatch(/sim_[0-9a-f]{32}/);

    // Data survives a restart, and so does the dev key.
    const again = await startApp();
    child = again.proc;
    expect(again.key).toBe(app.key);
    const kept = await request(`${again.url}/tasks/e2e-task-1`, { headers: { authorization: `Bearer ${again.key}` } });
    expect(kept.statusCode).toBe(200);
    expect(((await kept.body.json()) as { status: string }).status).toBe("succeed");
    expect(await stop(again.proc, again.output)).toBe(true);
  }, 120_000);
});
