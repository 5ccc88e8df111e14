/**
 * `npm start` as an operator meets it: a bad configuration stops it before
 * anything is created, a second start on the same DATA_DIR is refused while
 * the first keeps serving, and SIGTERM or SIGINT to npm alone stops
 * everything within 10 s and frees the port.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { cleanEnv, exited, killHard, type RunningStack, spawnStack, startStack } from "../../infra/dev/local/stack-process";

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "taskwatch-stack-"));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
function track(s: RunningStack | { proc: RunningStack["proc"] }) {
  cleanup.push(() => killHard(s.proc));
}

/** Whether something still accepts connections on the port. */
async function portInUse(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((ok) => {
    s.once("error", () => ok(true));
    s.listen(port, "127.0.0.1", () => s.close(() => ok(false)));
  });
}

describe("the local stack", () => {
  it("refuses a bad configuration before creating anything: one line per variable, no stack trace, no values", async () => {
    const dataDir = join(tempDir(), "not-yet");
    const { proc, output } = spawnStack(
      cleanEnv({ DATA_DIR: dataDir, SLACK_WEBHOOK_URL: "https://10.0.0.7/hook-secret", DEFAULT_WEBHOOK_URL: "https://ci.example.com/h", DEFAULT_WEBHOOK_SECRET: "whsec_dG9vc2hvcnQ=", POLL_INTERVAL_S: "zero" }),
    );
    track({ proc });
    expect(await exited(proc, 30_000)).toBe(true);
    expect(proc.exitCode).not.toBe(0);
    const out = output();
    expect(out).toContain("apig-taskwatch failed to start: invalid configuration:");
    for (const v of ["SLACK_WEBHOOK_URL", "DEFAULT_WEBHOOK_SECRET", "POLL_INTERVAL_S"]) expect(out).toMatch(new RegExp(`^\\s+${v}: `, "m"));
    expect(out).toContain("could never be delivered");
    expect(out).not.toMatch(/\n\s+at /);
    expect(out).not.toContain("hook-secret");
    expect(out).not.toContain("dG9vc2hvcnQ");
    expect(existsSync(dataDir)).toBe(false);
  }, 40_000);

  it("a second start on the same DATA_DIR exits non-zero at once; the first keeps serving", async () => {
    const dataDir = tempDir();
    const first = await startStack(cleanEnv({ DATA_DIR: dataDir }));
    track(first);
    const second = spawnStack(cleanEnv({ DATA_DIR: dataDir }));
    track(second);
    const t0 = Date.now();
    expect(await exited(second.proc, 20_000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(second.proc.exitCode).not.toBe(0);
    expect(second.output()).toContain("is in use by another instance");
    expect(second.output()).not.toMatch(/\n\s+at /);
    const health = await request(`${first.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
  }, 60_000);

  it.each(["SIGTERM", "SIGINT"] as const)("%s to npm alone stops everything within 10 s and frees the port", async (signal) => {
    const dataDir = tempDir();
    const stack = await startStack(cleanEnv({ DATA_DIR: dataDir }));
    track(stack);
    const port = Number(new URL(stack.url).port);
    expect(await portInUse(port)).toBe(true);
    const t0 = Date.now();
    // Only npm's own pid, not the process group: npm and its shell may not pass the signal on.
    stack.proc.kill(signal);
    expect(await exited(stack.proc, 10_000)).toBe(true);
    const until = t0 + 10_000;
    while ((await portInUse(port)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await portInUse(port)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // And the data directory is free again: the next start takes it.
    const again = await startStack(cleanEnv({ DATA_DIR: dataDir }));
    track(again);
    again.proc.kill("SIGTERM");
    expect(await exited(again.proc, 10_000)).toBe(true);
  }, 60_000);
});
