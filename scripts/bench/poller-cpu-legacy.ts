/**
 * `poller-cpu.ts` for a revision from before `lib/platform/poller-handler.ts`
 * (such as ec96256, the code when issue 18 was filed), whose
 * `functions/poller.ts` reads `process.env` when its module loads: the same
 * settings (`poller-cpu-env.ts`) are put in `process.env` first, then the
 * module is imported and its `handler` run once, as Lambda would. Same
 * arguments and output as `poller-cpu.ts`; `poller-cpu.sh` picks this one
 * when the revision it measures has no poller-handler.
 *
 *   node <bundle> <stack.json> [seconds=58] [rps=200] [concurrency=64]
 */
import { type BenchHandler, benchArgs, runAndReport } from "./poller-cpu-env";

const { env, invocations } = benchArgs(process.argv.slice(2));
Object.assign(process.env, env);
// Imported only now: the module reads process.env as it loads (esbuild keeps that order in one bundle).
const poller = (await import("../../functions/poller")) as unknown as { handler: BenchHandler };
await runAndReport(poller.handler, invocations);
