/**
 * `npm run bench`: the poller's figures on this machine, printed as a table.
 *
 *   npm run bench              # full: ~8 minutes
 *   npm run bench -- --quick   # smaller sizes, ~3 minutes, to try it out
 *
 * BENCH_OUT=file writes the table there too. Timings on a shared machine
 * swing; run it twice and compare.
 */
import { writeFileSync } from "node:fs";
import { costPerMillion, pollsPerLife } from "./cost";
import { runDetection } from "./detection";
import { runFairness } from "./fairness";
import { runFanOut } from "./fan-out";
import { runInvocationMemory } from "./invocation-memory";
import { runThroughput } from "./throughput";

const quick = process.argv.includes("--quick");
/** `--only=detection,throughput,invocation,fanout,fairness`: run those sections (the cost model needs detection and throughput). */
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const run = (section: string) => !only || only.includes(section);
const log = (s: string) => process.stderr.write(s + "\n");
// The AWS SDK's Node 20 notice is noise here.
process.removeAllListeners("warning");

const LATENCY = 200;
const CONCURRENCY = 64;
const out: string[] = [];
const row = (...cells: Array<string | number>) => out.push(`| ${cells.join(" | ")} |`);
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

async function main() {
  out.push(`apig-taskwatch benchmark, ${new Date().toISOString()}, node ${process.version}, ${quick ? "quick" : "full"} run`, "");

  let det: Awaited<ReturnType<typeof runDetection>> | undefined;
  if (run("detection")) {
    log("1/5 detection latency: real handlers, 60 s schedule, simulator at 200 ms ...");
    det = await runDetection({ background: quick ? 300 : 1_000, tasks: quick ? 40 : 120, latencyMs: LATENCY, log });
    out.push("### Detection latency (task end at APIG -> webhook received)", "");
    out.push("| open watches | tasks measured | notified | p50 s | p99 s | max s | target |", "|---:|---:|---:|---:|---:|---:|---|");
    row(det.openWatches, det.tasks, det.notified, f(det.p50S), f(det.p99S), f(det.maxS), "p50 <= 5 s, p99 <= 15 s");
    out.push("");
  }

  let saturated = 0;
  if (run("throughput")) {
    log("2/5 throughput: saturated invocations at 1,000 and 10,000 watches ...");
    out.push("### Polls per second of one invocation against concurrency / latency (steady state, after every watch's first poll)", "");
    out.push("| watches | concurrency | APIG latency ms | bound polls/s | first round s | measured polls/s | of bound | target |", "|---:|---:|---:|---:|---:|---:|---:|---|");
    for (const watches of quick ? [1_000] : [1_000, 10_000]) {
      const t = await runThroughput({ watches, concurrency: CONCURRENCY, latencyMs: LATENCY, seconds: watches > 1_000 ? 58 : quick ? 20 : 30 });
      saturated = Math.max(saturated, t.pollsPerS);
      row(t.watches, t.concurrency, t.latencyMs, f(t.boundRps, 0), f(t.firstRoundS), f(t.pollsPerS), `${f(t.ratio * 100, 0)} %`, ">= 90 %");
    }
    out.push("");
  }

  if (run("invocation")) {
    log("3/5 one scheduled invocation of the real poller bundle over 10,000 old watches ...");
    const mem = await runInvocationMemory({ watches: quick ? 2_000 : 10_000, latencyMs: LATENCY });
    out.push("### One invocation (real poller bundle, child process, `/usr/bin/time -v`)", "");
    out.push("| open watches | polled in the invocation | polls/s | wall s | peak RSS MiB |", "|---:|---:|---:|---:|---:|");
    row(mem.watches, mem.polled, f(mem.pollsPerS), f(mem.loopS), mem.peakRssMiB ?? "n/a");
    out.push("");
  }

  if (run("fanout")) {
    log("4/5 fan-out: 100,000 watches on virtual time ...");
    const fan = await runFanOut({ watches: quick ? 20_000 : 100_000, shards: 16, minutes: 3, apigMaxRps: 3_000, concurrency: CONCURRENCY });
    out.push("### Fan-out simulation (virtual time, real invocation code, APIG at 200 ms, APIG_MAX_RPS 3000)", "");
    out.push("| open watches | shards | worker invocations | minutes | APIG polls | polled every minute | max gap s | wall s |", "|---:|---:|---:|---:|---:|---:|---:|---:|");
    row(fan.watches, fan.shards, fan.workers, fan.minutes, fan.polls, fan.everyMinute, f(fan.maxGapS), f(fan.wallS));
    out.push("");
  }

  if (run("fairness")) {
    log("fairness: fresh containers at the shipped settings (APIG_MAX_RPS 200, 16 shards), virtual time ...");
    out.push("### Fairness on fresh containers (virtual time, real invocation code, every invocation and worker on a fresh container, APIG at 200 ms, APIG_MAX_RPS 200, POLL_CONCURRENCY 64, 16 shards, old never-ending watches)", "");
    out.push("| open watches | minutes | APIG polls a minute (median) | workers | every watch polled within (invocations) | promise: ceil(open / polls a minute) + 1 | polled every minute | largest gap between polls s (from registration) | backlog reported s | backlog true s | wall s |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const watches of quick ? [5_000, 20_000] : [11_000, 20_000, 30_000]) {
      const r = await runFairness({ watches, minutes: watches > 10_000 ? 5 : 3, apigMaxRps: 200, concurrency: CONCURRENCY, shards: 16 });
      row(r.watches, r.minutes, r.pollsPerMinute, r.workers, r.allPolledWithin ?? "not all", r.bound, r.everyMinute, r.trueOldestGapS, r.reportedBacklogS, r.trueBacklogS, f(r.wallS));
    }
    out.push("", "Old watches a minute 200 rps serves: about the APIG polls a minute above (each old watch wants one poll a minute); above that, every watch is still polled within ceil(open / polls a minute) + 1 invocations, and the backlog says how late. To serve more, raise `APIG_MAX_RPS` (if the region allows it): capacity grows with it until `POLL_CONCURRENCY` / APIG latency binds (64 / 0.2 s = 320 rps per invocation; fan-out adds invocations).", "");
  }

  if (!det || saturated === 0) return finish();
  log("5/5 cost model ...");
  const taskSeconds = 180;
  const cost = costPerMillion({
    taskSeconds,
    writeUnitsPerLife: det.writeUnitsPerLife,
    // Reads (full reads, pickups) grow with a watch's time open; scale the measured life to 3 minutes.
    readUnitsPerLife: det.readUnitsPerLife * (taskSeconds / det.meanTaskS),
    pollerPollsPerS: saturated,
    pollerMemoryGb: 0.5,
    registrationS: 0.3,
    apiMemoryGb: 0.5,
  });
  out.push("### DynamoDB units per watch life (counted on the wire, indexes included)", "");
  out.push("| write units | read units (measured life) | mean life s | target |", "|---:|---:|---:|---|");
  row(f(det.writeUnitsPerLife, 2), f(det.readUnitsPerLife, 2), f(det.meanTaskS, 0), "<= 11 write units");
  out.push("");
  out.push(`### Cost per million watches (3-minute tasks, ${pollsPerLife(taskSeconds)} polls each, eu-central-1 on-demand)`, "");
  out.push("| item | USD per million watches | basis |", "|---|---:|---|");
  for (const l of cost.ours) row(l.name, f(l.perMillion, 2), l.detail);
  row("**apig-taskwatch total**", `**${f(cost.total, 2)}**`, "target <= $12");
  for (const l of cost.stepFunctions) row(l.name, f(l.perMillion, 2), `${l.detail}; ${f(l.perMillion / cost.total, 0)}x ours`);
  out.push("", "Fixed: the poller runs ~58 s a minute at 512 MB whatever the load: about $17 a month per deployment (arm64).");
  finish();
}

function finish() {
  const text = out.join("\n");
  console.log(text);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, text + "\n");
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
