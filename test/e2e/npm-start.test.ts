/**
 * `npm start` as a newcomer runs it: no configuration at all, then drive the
 * printed API over HTTP until a task's notification arrives, then SIGTERM.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { Webhook } from "standardwebhooks";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, startStack, stopStack } from "../../infra/dev/local/stack-process";
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

// The deployed schedule (60 s) on purpose: a registration into an idle poller is noticed by the next invocation.
const startApp = () => startStack(cleanEnv({ DATA_DIR: dataDir, ALLOW_PRIVATE_TARGETS: "true" }));
const stop = (proc: ChildProcess, output: () => string) => stopStack({ proc, output });

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
    const [hit] = await receiver.waitFor(1, 80_000);
    // The poller was idle (nothing open), so its invocation ended at once (idle costs nothing): the
    // registration queried APIG itself, and the next scheduled invocation (within 60 s) picked the
    // watch up and polled it every 2 s while young. (With an invocation running: within ~5 s.)
    expect(hit!.at - registeredAt).toBeLessThan(60_000 + 15_000);
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
