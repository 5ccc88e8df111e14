/**
 * The local stack logs in the same shape as Lambda: one Powertools JSON
 * object per line, `task_id` and `tenant` on each line about a watch, and
 * LOG_LEVEL honoured. Runs `npm start` against the built-in simulator.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, startStack, stopStack } from "../../infra/dev/local/stack-process";
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

describe("npm start logs", () => {
  it("writes Powertools JSON lines with task_id and tenant on every line about a watch", async () => {
    receiver = await startReceiver();
    const stack = await startStack(cleanEnv({ DATA_DIR: dataDir, POLL_INTERVAL_S: "1", ALLOW_PRIVATE_TARGETS: "true", SERVICE_NAME: "taskwatch-local", LOG_LEVEL: "debug" }));
    child = stack.proc;
    const { url, key } = stack;

    const res = await request(`${url}/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ project_id: "demo-project", instance_id: "demo-instance", task_id: "logs-task-1", notify: [{ type: "webhook", url: `${receiver.url}/hook`, secret: SECRET }] }),
    });
    expect(res.statusCode).toBe(201);
    await res.body.dump();
    await receiver.waitFor(1, 30_000);
    // The delivery's log line follows the receiver's answer.
    const lines = () => stack.output().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (let i = 0; i < 50 && !lines().some((l) => l.message === "delivery_delivered"); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await stopStack(stack)).toBe(true);

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
    expect(stack.output()).not.toContain(SECRET);
  }, 120_000);
});
