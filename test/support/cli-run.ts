/**
 * The `taskwatch` CLI run as a child process, as a pipeline runs it, with a
 * clean environment (no TASKWATCH_* of the developer's): PATH and `env`.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";

export const CLI = join(import.meta.dirname, "..", "..", "cli", "taskwatch.mjs");

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI with `args`; resolves with its exit code and output, never rejects. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((ok) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH!, ...env }, timeout: timeoutMs }, (err, stdout, stderr) =>
      ok({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });
}
