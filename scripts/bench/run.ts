/**
 * `npm run bench`: the poller's figures on this machine, printed as a table.
 *
 *   npm run bench              # full: ~8 minutes
 *   npm run bench -- --quick   # smaller sizes, ~3 minutes, to try it out
 *
 * BENCH_OUT=file writes the table there too. Timings on a shared machine
 * swing; run it twice and compare.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { type BillInput, monthlyBill, PRICE_LISTS } from "./cost";
import { type HandoverRow, runAges, runHandover } from "./ages";
import { runDetection } from "./detection";
import { runUnitsByShape } from "./units-by-shape";
import { runFairness } from "./fairness";
import { runFanOut } from "./fan-out";
import { runFixedUnits } from "./fixed-units";
import { runInvocationMemory } from "./invocation-memory";
import { runThroughput } from "./throughput";
import { hideSdkNodeVersionWarning } from "../../infra/dev/node-warnings";

const quick = process.argv.includes("--quick");
/** `--only=detection,throughput,invocation,fanout,fairness,ages,handover,shapes,bill`: run those sections (the bill needs detection, ages and handover). */
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const run = (section: string) => !only || only.includes(section);
const log = (s: string) => process.stderr.write(s + "\n");
// The AWS SDK's Node 20 notice is noise here; other warnings still show.
hideSdkNodeVersionWarning();

const LATENCY = 200;
/** The deployed poller's memory (serverless.yml `pollerMemory`): what the invocation runs at and the bill charges. */
const POLLER_MEMORY_MB = Number(/^\s+pollerMemory: (\d+)$/m.exec(readFileSync(new URL("../../serverless.yml", import.meta.url), "utf8"))?.[1] ?? NaN);
const CONCURRENCY = 64;
const out: string[] = [];
const row = (...cells: Array<string | number>) => out.push(`| ${cells.join(" | ")} |`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

async function main() {
  out.push(`apig-taskwatch benchmark, ${new Date().toISOString()}, node ${process.version}, ${quick ? "quick" : "full"} run`, "");

  let det: Awaited<ReturnType<typeof runDetection>> | undefined;
  if (run("detection")) {
    log("1/7 detection latency: real handlers, 60 s schedule, simulator at 200 ms ...");
    det = await runDetection({ background: quick ? 300 : 1_000, tasks: quick ? 40 : 120, latencyMs: LATENCY, log });
    out.push("### Detection latency (task end at APIG -> webhook received)", "");
    out.push("| open watches | tasks measured | notified | p50 s | p99 s | max s | target |", "|---:|---:|---:|---:|---:|---:|---|");
    row(det.openWatches, det.tasks, det.notified, f(det.p50S), f(det.p99S), f(det.maxS), "p50 <= 5 s, p99 <= 15 s");
    out.push("");
  }

  let saturated = 0;
  if (run("throughput")) {
    log("2/7 throughput: saturated invocations at 1,000 and 10,000 watches ...");
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
    log("3/7 one scheduled invocation of the real poller bundle over 10,000 old watches ...");
    out.push("### One invocation (real poller bundle, child process, `/usr/bin/time -v`, Lambda's heap flags for the memory)", "");
    out.push("| open watches | webhook each | memory MB | polled in the invocation | polls/s | wall s | peak RSS MiB |", "|---:|---|---:|---:|---:|---:|---:|");
    // The shipped poller memory (serverless.yml pollerMemory), without and with a webhook on every watch.
    for (const webhook of [false, true]) {
      const mem = await runInvocationMemory({ watches: quick ? 2_000 : 10_000, latencyMs: LATENCY, memoryMb: POLLER_MEMORY_MB, webhook });
      row(mem.watches, mem.webhook ? "yes" : "no", mem.memoryMb, mem.polled, f(mem.pollsPerS), f(mem.loopS), mem.peakRssMiB ?? "n/a");
    }
    out.push("");
  }

  if (run("fanout")) {
    const watches = quick ? 20_000 : 100_000;
    out.push(`### Fan-out simulation (virtual time, real invocation code, ${watches.toLocaleString("en")} old watches, APIG at 200 ms, ${CONCURRENCY} in flight)`, "");
    out.push("| APIG_MAX_RPS | open watches | shards | worker invocations | minutes | APIG polls | polled every minute | max gap s | wall s |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // The shipped cap, where one invocation already reaches the rate, and a raised one, where workers add throughput.
    for (const apigMaxRps of [200, 3_000]) {
      log(`4/7 fan-out: ${watches} watches on virtual time, APIG_MAX_RPS ${apigMaxRps} ...`);
      const fan = await runFanOut({ watches, shards: 16, minutes: 3, apigMaxRps, concurrency: CONCURRENCY });
      row(apigMaxRps, fan.watches, fan.shards, fan.workers, fan.minutes, fan.polls, fan.everyMinute, f(fan.maxGapS), f(fan.wallS));
    }
    out.push("");
  }

  let ages: Awaited<ReturnType<typeof runAges>> | undefined;
  if (run("ages") || run("bill")) {
    log("5/7 detection by task age, waited and not (virtual time) ...");
    ages = await runAges({ background: 1_000, perAge: quick ? 20 : 50, latencyMs: LATENCY, maxRps: 200, concurrency: CONCURRENCY });
    out.push(`### Detection by task age (${ages.settings}; ${f(ages.wallS, 0)} s wall)`, "");
    out.push(
      "| task ends after | client waiting | tasks | p50 s | p99 s | client sees it p50 / p99 s | reads a life | waited marks a life | target p99 |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    );
    for (const r of ages.rows) {
      const target = r.waited ? "<= 5 s" : r.ageMin < 15 ? "<= 15 s (first minutes)" : "<= 60 s";
      row(`${r.ageMin} min + U(0,1) min`, r.waited ? "yes (CLI)" : "no", r.tasks, f(r.p50S), f(r.p99S), r.waited ? `${f(r.clientP50S!)} / ${f(r.clientP99S!)}` : "", r.waited ? f(r.readsPerLife!, 0) : "", r.waited ? f(r.marksPerLife!, 1) : "", target);
    }
    out.push("");
  }

  let handover: HandoverRow[] | undefined;
  if (run("handover") || run("bill")) {
    log("handover: the minute boundary before and after (virtual time) ...");
    handover = [];
    for (const lateS of [0, 5, 10]) handover.push(...(await runHandover({ old: 1_000, minutes: quick ? 6 : 10, lateS, latencyMs: LATENCY })));
    out.push(
      `### The minute boundary (virtual time, real invocation code, one invocation per container; 1,000 watches aged 30 min, a young one registered every 7 s, APIG ${LATENCY} ms, APIG_MAX_RPS 200, POLL_CONCURRENCY 64, 4 shards, every other successor starting late by the figure given)`,
      "",
      "| handover | successor late s | longest poll-free stretch at a boundary, median / worst s | polls sooner than the cadence | poller s billed a minute |",
      "|---|---:|---:|---:|---:|",
    );
    for (const r of handover) row(r.mode === "before" ? "before (loop ends 2 s before the schedule)" : "after (polls until the successor takes over)", r.lateS, `${f(r.stretchP50S)} / ${f(r.stretchMaxS)}`, r.tooSoon, f(r.busySPerMinute));
    out.push("");
  }

  if (run("shapes")) {
    log("6/7 write units per life by shape ...");
    out.push("### DynamoDB units per watch life by shape (capacity proxy on the wire, DynamoDB rules; register, processing, succeed, one webhook)", "");
    out.push("| shape | task_result bytes | write units | of which the watch (item and index entries) | of which stored beside it once (document, lists) | read units |", "|---|---:|---:|---:|---:|---:|");
    for (const u of await runUnitsByShape()) row(u.shape, u.resultBytes, u.writeUnits, u.watchUnits, u.besideUnits, f(u.readUnits, 1));
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


  if (!det || !ages || !handover || !run("bill")) return finish();
  log("7/7 the monthly bill: first what the schedule costs apart from any watch (2 to 5 minutes) ...");
  const fixed = await runFixedUnits({ busyMinutes: quick ? 2.5 : 4 });
  out.push(
    "### What the schedule costs apart from any watch (real handler on its schedule, capacity proxy on the wire; `scripts/bench/fixed-units.ts`)",
    "",
    "| | write units | read units | handler wall s |",
    "|---|---:|---:|---:|",
  );
  row(`idle invocation (no open watch; ${fixed.idle.invocations} measured)`, f(fixed.idle.writeUnits, 2), f(fixed.idle.readUnits, 2), f(fixed.idle.wallS, 3));
  row(`minute with an open watch (${f(fixed.busy.minutes)} minutes measured; 16 shards)`, f(fixed.busy.writeUnits, 1), f(fixed.busy.readUnits, 1), "");
  out.push("");
  const taskSeconds = 180;
  const three = ages.rows.find((r) => r.ageMin === 3 && r.waited)!;
  // Per second of waiting, scaled to a life of exactly 3 minutes.
  const perS = (x: number) => (x / three.meanLifeS) * taskSeconds;
  const input: BillInput = {
    taskSeconds,
    writeUnitsPerLife: det.writeUnitsPerLife,
    busyMinuteWriteUnits: fixed.busy.writeUnits,
    busyMinuteReadUnits: fixed.busy.readUnits,
    idleWriteUnits: fixed.idle.writeUnits,
    idleReadUnits: fixed.idle.readUnits,
    readUnitsPerLife: det.readUnitsPerLife * (taskSeconds / det.meanTaskS),
    waitedReadsPerLife: perS(three.readsPerLife!),
    waitedMarksPerLife: perS(three.marksPerLife!),
    writeUnitsPerMark: 3,
    readUnitsPerWaitedRead: 0.5,
    pollerLogBytesPerLife: ages.logBytesPerLife,
    platformLogBytesPerInvocation: 350,
    accessLogBytesPerRequest: 330,
    waitedReadsVia: "function-url",
    egressBytesPerPoll: 1_000,
    pollerMemoryGb: POLLER_MEMORY_MB / 1024,
    // Measured above (the handover section): an invocation polls until its successor has taken over.
    busyS: mean(handover!.filter((r) => r.mode === "after").map((r) => r.busySPerMinute)),
    // Measured above: the handler's wall time of an idle invocation, in this process (Lambda bills it rounded up to 1 ms).
    idleS: fixed.idle.wallS,
    registrationS: 0.3,
    apiMemoryGb: 0.5,
    readS: 0.01,
    readMemoryGb: 0.25,
    metricSeries: 12,
    alarms: 6,
    dashboards: 1,
  };
  for (const prices of [PRICE_LISTS["eu-central-1"]!, PRICE_LISTS["us-east-1"]!]) {
    out.push(`### Monthly bill, USD, ${prices.region} list prices (scripts/bench/cost.ts), 3-minute tasks arriving uniformly over the month`, "");
    const volumes = [100, 1_000, 10_000, 100_000, 1_000_000];
    const bills = volumes.flatMap((v) => [monthlyBill(v, false, input, prices), monthlyBill(v, true, input, prices)]);
    out.push(`| item | ${bills.map((b) => `${b.watchesPerMonth.toLocaleString("en")}${b.waited ? " waited" : ""}`).join(" | ")} |`);
    out.push(`|---|${bills.map(() => "---:").join("|")}|`);
    for (let i = 0; i < bills[0]!.lines.length; i++) row(bills[0]!.lines[i]!.name, ...bills.map((b) => f(b.lines[i]!.usd, 2)));
    row("**total**", ...bills.map((b) => `**${f(b.total, 2)}**`));
    row("Step Functions Standard, once a minute", ...bills.map((b) => f(b.sfnMinute, 2)));
    row("Step Functions Standard, our cadence", ...bills.map((b) => f(b.sfnCadence, 2)));
    row("ours / SFN once a minute", ...bills.map((b) => `${f(b.total / b.sfnMinute, 2)}x`));
    row("per thousand watches", ...bills.map((b) => f((b.total / b.watchesPerMonth) * 1000, 3)));
    const viaApi = (b: (typeof bills)[number]) => (b.waited ? monthlyBill(b.watchesPerMonth, true, { ...input, waitedReadsVia: "http-api" }, prices) : null);
    row("total if waits read through the HTTP API", ...bills.map((b) => { const a = viaApi(b); return a ? f(a.total, 2) : ""; }));
    out.push("");
  }
  out.push(
    `Assumptions besides the measured units (each a field of \`BillInput\` in run.ts): poller ${POLLER_MEMORY_MB} MB (serverless.yml \`pollerMemory\`), ${f(input.busyS)} s per minute with an open watch (measured above: until the successor takes over) and ${f(input.idleS, 3)} s per idle invocation (measured above); DynamoDB units of the schedule itself as measured above;`,
    "registration 0.3 s at 512 MB, a read 10 ms at 256 MB; 350 log bytes of Lambda platform lines per invocation and 330 per HTTP API access-log line;",
    "1 KB sent to APIG per query (AK/SK; ~10 KB with an IAM token); 12 metric series billed for the hours with an open watch; 6 alarms, 1 dashboard.",
    `Waited: the CLI reads at the Retry-After rhythm (${f(input.waitedReadsPerLife, 0)} reads and ${f(input.waitedMarksPerLife, 1)} waited marks of ${input.writeUnitsPerMark} write units per 3-minute life, measured above),`,
    "through the read function's URL (Link rel=monitor): no API Gateway request, access-log line or platform log line per read (the last row: the same reads through the HTTP API).",
  );
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
