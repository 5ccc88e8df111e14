/**
 * CPU per poll of the deployed poller at the rate cap: the real handler
 * (`createPollerHandler`, as `functions/poller.ts` builds it) with the
 * production settings (`poller-cpu-env.ts`), one scheduled invocation whose
 * loop lasts `seconds`, against dynalite and the APIG simulator in another
 * process (`poller-cpu-stack.ts`), over HTTP. Young watches want a poll every
 * 2 s, far more than the cap allows, so the loop runs at the cap with polls
 * waiting for a rate slot.
 *
 * Log and metric lines go to stdout, as in Lambda; one JSON line of figures
 * goes to stderr: polls, polls/s, and the CPU of the invocation alone
 * (`process.cpuUsage` around the handler: module load left out).
 *
 *   scripts/bench/poller-cpu.sh [seconds]   # before / after, A B A B under /usr/bin/time -v
 *   node <bundle> <stack.json> [seconds=58] [rps=200] [concurrency=64]
 */
import { createPollerHandler } from "../../lib/platform/poller-handler";
import { benchArgs, runAndReport } from "./poller-cpu-env";

const { env, invocations } = benchArgs(process.argv.slice(2));
await runAndReport(createPollerHandler(env), invocations);
