/**
 * One scheduled invocation of the real poller bundle (esbuild, the
 * serverless.yml options) over 10,000 open watches, in a child process under
 * `/usr/bin/time -v`: its peak memory, and whether every watch was polled
 * within the minute. dynalite and the simulator (200 ms) run in this process.
 * The child gets the heap flags Lambda's Node bootstrap derives from the
 * function's memory (new space a tenth, old space the rest), so a poller that
 * does not fit fails here as it would there; with `webhook`, every watch has
 * one webhook target, as most do.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { build } from "esbuild";
import { pollerTiming } from "../../lib/app/timing";
import { lambdaHeapFlags } from "../../infra/dev/lambda-heap";
import { handlerEnv, seedRunning, startStack } from "./stack";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..", "..");

export interface InvocationResult {
  watches: number;
  polled: number;
  pollsPerS: number;
  peakRssMiB: number | null;
  loopS: number;
  memoryMb: number;
  webhook: boolean;
}

export async function runInvocationMemory(o: { watches: number; latencyMs: number; memoryMb: number; webhook: boolean }): Promise<InvocationResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-poller-"));
  const outfile = join(dir, "poller.mjs");
  await build({
    entryPoints: [join(root, "functions", "poller.ts")],
    bundle: true,
    minify: true,
    platform: "node",
    format: "esm",
    target: "node22",
    mainFields: ["module", "main"],
    outfile,
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "silent",
  });
  const stack = await startStack({ latencyMs: o.latencyMs });
  // Old watches: each wants one poll a minute.
  await seedRunning(stack, o.watches, {
    prefix: "mem",
    ageMs: (i) => 20 * 60_000 + i * 100,
    dueShards: 16,
    ...(o.webhook ? { webhookUrl: "https://hooks.example.com/apig-taskwatch" } : {}),
  });
  const { lambdaTimeoutS } = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });
  const script = `const { handler } = await import(${JSON.stringify(outfile)});
    const t = Date.now();
    const s = await handler({ source: "aws.events" }, { getRemainingTimeInMillis: () => ${lambdaTimeoutS * 1000} - (Date.now() - t) });
    console.log(JSON.stringify(s));`;
  const env = { PATH: process.env.PATH ?? "", ...handlerEnv(stack, { LOG_LEVEL: "ERROR" }) };
  const heap = lambdaHeapFlags(o.memoryMb);
  const time = existsSync("/usr/bin/time") ? ["/usr/bin/time", ["-v", process.execPath]] : [process.execPath, []];
  const from = Date.now();
  const { stdout, stderr } = await run(time[0] as string, [...(time[1] as string[]), ...heap, "--input-type=module", "-e", script], {
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
  const loopS = (Date.now() - from) / 1000;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as { polls: number; pollsPerS: number };
  const polled = new Set(stack.sim.requests.filter((r) => r.method === "GET").map((r) => r.path.split("/").at(-1))).size;
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
  return { watches: o.watches, polled, pollsPerS: summary.pollsPerS, peakRssMiB: rss ? Math.round(Number(rss[1]) / 1024) : null, loopS, memoryMb: o.memoryMb, webhook: o.webhook };
}
