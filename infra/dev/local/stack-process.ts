/** `npm start` as a child process: start it, read its banner, signal it, kill it. */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const root = join(import.meta.dirname, "..", "..", "..");

export interface RunningStack {
  proc: ChildProcess;
  url: string;
  /** The dev API key from the banner ("" when API_KEYS was set). */
  key: string;
  output: () => string;
}

/** The environment minus anything that would point the stack elsewhere than the test says. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(OTC_|API_KEYS|APIG_ENDPOINT|IAM_ENDPOINT|REGIONS|SLACK_WEBHOOK_URL|DEFAULT_WEBHOOK|SSM_PREFIX|DYNAMODB_ENDPOINT|TABLE_NAME|TASKWATCH_|VITEST|NODE_ENV|CURSOR_SECRET)/.test(k)) env[k] = v;
  }
  return { ...env, PORT: "0", ...extra };
}

/** Spawn `npm start` in its own process group (as a terminal would run it). */
export function spawnStack(env: NodeJS.ProcessEnv): { proc: ChildProcess; output: () => string } {
  const proc = spawn("npm", ["start"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { proc, output: () => out };
}

/** Start and wait for the banner. */
export async function startStack(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<RunningStack> {
  const { proc, output } = spawnStack(env);
  const until = Date.now() + timeoutMs;
  while (!/HTTP API:\s+(\S+)/.test(output())) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`npm start exited early:\n${output()}`);
    if (Date.now() > until) throw new Error(`no start banner:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, output, url: /HTTP API:\s+(\S+)/.exec(output())![1]!, key: /API key:\s+(\S+)/.exec(output())?.[1] ?? "" };
}

/** SIGTERM to the process group, as a terminal or a process manager would; true when the app says it stopped cleanly. */
export async function stopStack(stack: Pick<RunningStack, "proc" | "output">): Promise<boolean> {
  process.kill(-stack.proc.pid!, "SIGTERM");
  if (!(await exited(stack.proc, 20_000))) throw new Error("did not stop after SIGTERM");
  // npm itself may die of the signal; the app underneath must have shut down on its own terms.
  return stack.output().includes("stopped cleanly") && (stack.proc.exitCode === 0 || stack.proc.signalCode === "SIGTERM");
}

/** Resolves once the process has exited; false if it did not within `ms`. */
export async function exited(proc: ChildProcess, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (proc.exitCode === null && proc.signalCode === null) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  // Its last words may still be in the pipes.
  const drained = Date.now() + 2_000;
  while ((proc.stdout?.readableEnded === false || proc.stderr?.readableEnded === false) && Date.now() < drained) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** kill -9 of the whole tree (npm, the shell, node): a power cut as far as the stack can tell. */
export function killHard(proc: ChildProcess): void {
  try {
    process.kill(-proc.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}
