/**
 * `npm start` and `npx taskwatch` as a newcomer would put them together: the
 * local stack with its APIG simulator, then an import and an export through
 * the CLI, each waited for and ended with the right exit code.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, startStack } from "../../infra/dev/local/stack-process";

const root = join(import.meta.dirname, "..", "..");
const dataDir = mkdtempSync(join(tmpdir(), "taskwatch-cli-e2e-"));
let app: ChildProcess | undefined;

afterAll(async () => {
  if (app?.pid && app.exitCode === null) {
    process.kill(-app.pid, "SIGTERM");
    await new Promise((r) => app!.once("exit", r));
  }
  rmSync(dataDir, { recursive: true, force: true });
});


function taskwatch(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    // As the README says: npx taskwatch, in the repository.
    execFile("npx", ["--no-install", "taskwatch", ...args], { cwd: root, env: { ...cleanEnv(), ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      ok({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe("taskwatch against npm start", () => {
  it("imports a YAML spec and exports the group, waiting for each", async () => {
    const stack = await startStack(cleanEnv({ DATA_DIR: dataDir, POLL_INTERVAL_S: "1" }));
    app = stack.proc;
    const env = { TASKWATCH_URL: stack.url, TASKWATCH_API_KEY: stack.key };

    const imported = await taskwatch(
      ["import", "--project", "demo", "--instance", "gw", "--group", "grp-e2e", "--file", join(root, "test", "fixtures", "pets.yaml"), "--wait", "--wait-timeout", "30"],
      env,
    );
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain("imported: 3 ok, 0 failed");

    const outFile = join(dataDir, "exported.yaml");
    const exported = await taskwatch(["export", "--project", "demo", "--instance", "gw", "--group", "grp-e2e", "--env", "RELEASE", "--type", "yaml", "--out", outFile], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(readFileSync(outFile, "utf8")).toMatch(/swagger: "?2\.0"?[\s\S]*\/pets\/\{id\}:/);
  }, 120_000);
});
