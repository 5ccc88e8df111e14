/**
 * CPU per poll of the deployed poller at the rate cap: the real handler
 * (`createPollerHandler`, as `functions/poller.ts` builds it) with the
 * production settings (AK/SK signing, `APIG_MAX_RPS` 200, `POLL_CONCURRENCY`
 * 64, 16 due shards, `LOG_LEVEL` INFO, metrics written as in Lambda), one
 * scheduled invocation whose loop lasts `seconds`, against dynalite and the
 * APIG simulator in another process (`poller-cpu-stack.ts`), over HTTP.
 * Young watches want a poll every 2 s, far more than the cap allows, so the
 * loop runs at the cap with polls waiting for a rate slot.
 *
 * Log and metric lines go to stdout, as in Lambda; one JSON line of figures
 * goes to stderr: polls, polls/s, and the CPU of the invocation alone
 * (`process.cpuUsage` around the handler: module load left out).
 *
 *   scripts/bench/poller-cpu.sh [seconds]   # before / after, A B A B under /usr/bin/time -v
 *   node <bundle> <stack.json> [seconds=58] [rps=200] [concurrency=64]
 */
import { readFileSync } from "node:fs";
import { createPollerHandler } from "../../lib/platform/poller-handler";

const [stackFile, secondsArg = "58", rpsArg = "200", concArg = "64"] = process.argv.slice(2);
if (!stackFile) throw new Error("usage: poller-cpu <stack.json> [seconds] [rps] [concurrency]");
const stack = JSON.parse(readFileSync(stackFile, "utf8")) as { dynamoEndpoint: string; tableName: string; apigUrl: string; accessKey: string; secretKey: string };
const seconds = Number(secondsArg);

const env: Record<string, string> = {
  // As Lambda sets it (metrics are written only there); no AWS credentials, so no fan-out invoker.
  AWS_LAMBDA_FUNCTION_NAME: "apig-taskwatch-bench-poller",
  AWS_REGION: "eu-central-1",
  SERVICE_NAME: "apig-taskwatch-bench",
  DYNAMODB_ENDPOINT: stack.dynamoEndpoint,
  TABLE_NAME: stack.tableName,
  APIG_ENDPOINT: stack.apigUrl,
  IAM_ENDPOINT: stack.apigUrl,
  OTC_ACCESS_KEY: stack.accessKey,
  OTC_SECRET_KEY: stack.secretKey,
  OTC_REGION: "eu-de",
  POLL_CONCURRENCY: concArg,
  APIG_MAX_RPS: rpsArg,
  DUE_SHARDS: "16",
  APIG_TIMEOUT_MS: "10000",
  LOG_LEVEL: "INFO",
  // The loop lasts the schedule's interval less 2 s (`app/timing.ts`).
  POLL_INTERVAL_S: String(seconds + 2),
};
const handler = createPollerHandler(env);
const t0 = Date.now();
const cpu0 = process.cpuUsage();
const sum = await handler({}, { getRemainingTimeInMillis: () => 15 * 60_000 - (Date.now() - t0) });
const cpu = process.cpuUsage(cpu0);
const wall = (Date.now() - t0) / 1000;
const cpuS = (cpu.user + cpu.system) / 1e6;
process.stderr.write(
  `${JSON.stringify({
    polls: sum.polls,
    pollsPerS: Math.round((sum.polls / wall) * 10) / 10,
    errors: sum.errors,
    itemReads: sum.itemReads,
    invocationCores: Math.round((cpuS / wall) * 1000) / 1000,
    invocationCpuUsPerPoll: Math.round((cpuS / Math.max(1, sum.polls)) * 1e6),
  })}\n`,
);
process.exit(0);
