/**
 * What `poller-cpu.ts` and `poller-cpu-legacy.ts` share, so the two sides of
 * `poller-cpu.sh` run with the same settings: the poller's environment (the
 * production settings: AK/SK signing, `APIG_MAX_RPS` 200, `POLL_CONCURRENCY`
 * 64, 16 due shards, `LOG_LEVEL` INFO, metrics written as in Lambda) and the
 * one JSON line of figures each prints to stderr. Imports nothing from the
 * service, so it runs beside any revision of it.
 */
import { readFileSync } from "node:fs";

export interface BenchArgs {
  env: Record<string, string>;
  seconds: number;
  /** Scheduled invocations run one after the other on the same handler: the second and later ones find a warm container. */
  invocations: number;
}

/** `<stack.json> [seconds=58] [rps=200] [concurrency=64] [invocations=1]` from the command line. */
export function benchArgs(argv: string[]): BenchArgs {
  const [stackFile, secondsArg = "58", rpsArg = "200", concArg = "64", invArg = "1"] = argv;
  if (!stackFile) throw new Error("usage: poller-cpu <stack.json> [seconds] [rps] [concurrency] [invocations]");
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
    // The loop lasts the schedule's interval less 2 s (`app/timing.ts`; so it did at every revision measured).
    POLL_INTERVAL_S: String(seconds + 2),
  };
  return { env, seconds, invocations: Math.max(1, Number(invArg)) };
}

/** What one invocation's summary says, in every revision measured (`itemReads` only since the due index carries poll facts). */
export interface BenchSummary {
  polls: number;
  errors: number;
  itemReads?: number;
}

export type BenchHandler = (event: unknown, context: { getRemainingTimeInMillis(): number }) => Promise<BenchSummary>;

/**
 * Run `invocations` scheduled invocations one after the other and print the
 * figures of each to stderr, one JSON line each: polls, polls/s, errors, and
 * the CPU of that invocation alone (`process.cpuUsage` around the handler:
 * module load left out). Exits the process.
 */
export async function runAndReport(handler: BenchHandler, invocations = 1): Promise<never> {
  for (let n = 1; n <= invocations; n++) await invokeAndReport(handler, n);
  process.exit(0);
}

async function invokeAndReport(handler: BenchHandler, invocation: number): Promise<void> {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const sum = await handler({}, { getRemainingTimeInMillis: () => 15 * 60_000 - (Date.now() - t0) });
  const cpu = process.cpuUsage(cpu0);
  const wall = (Date.now() - t0) / 1000;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  process.stderr.write(
    `${JSON.stringify({
      invocation,
      polls: sum.polls,
      pollsPerS: Math.round((sum.polls / wall) * 10) / 10,
      errors: sum.errors,
      itemReads: sum.itemReads,
      invocationWallS: Math.round(wall * 10) / 10,
      invocationCores: Math.round((cpuS / wall) * 1000) / 1000,
      invocationCpuUsPerPoll: Math.round((cpuS / Math.max(1, sum.polls)) * 1e6),
    })}\n`,
  );
}
