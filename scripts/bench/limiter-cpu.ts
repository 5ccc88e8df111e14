/**
 * CPU per poll at the rate cap, in the real poll loop: `watches` young
 * watches (each wants a poll every 2 s, far more than the cap allows) on the
 * in-memory repository, a stand-in APIG answering after `latency` ms, the
 * loop capped at `rps` with `concurrency` polls in flight, `seconds` of real
 * time. Mode `spin` puts back the limiter as it was before issue 18 (each
 * waiting poll retries `take()` on its own timer); mode `queue` is the one
 * queue with one timer (`acquire`).
 *
 *   scripts/bench/limiter-cpu.sh [seconds]   # A B A B under /usr/bin/time -v
 *   node <bundle> queue|spin [seconds=20] [rps=200] [concurrency=64] [latencyMs=50] [watches=3000]
 */
import { simLoopDeps } from "../../infra/dev/sim/loop-sim";
import { createPollerState, runPollLoop } from "../../lib/app/poll-loop";
import type { TaskQuery } from "../../lib/app/ports";
import { newWatch } from "../../lib/app/register";
import { AimdThrottle } from "../../lib/app/region-throttle";
import { MemoryRepository } from "../../infra/dev/sim/memory-repository";

const [mode = "queue", secondsArg = "20", rpsArg = "200", concArg = "64", latArg = "50", watchesArg = "3000"] = process.argv.slice(2);
if (mode !== "queue" && mode !== "spin") throw new Error("mode is queue or spin");
const seconds = Number(secondsArg);
const rps = Number(rpsArg);
const concurrency = Number(concArg);
const latencyMs = Number(latArg);

let timers = 0;
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    timers++;
    const done = () => (clearTimeout(t), signal?.removeEventListener("abort", done), resolve());
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

if (mode === "spin") {
  // The limiter before issue 18: every waiting poll sleeps until its own guess of the next token, then tries again.
  AimdThrottle.prototype.acquire = async function (this: AimdThrottle, deadline: number) {
    for (;;) {
      const wait = this.take(Date.now());
      if (wait === 0) return true;
      if (Date.now() >= deadline) return false;
      await sleep(wait);
    }
  };
}

const store = new MemoryRepository(1);
const now = new Date();
for (let i = 0; i < Number(watchesArg); i++) {
  const w = newWatch("acme", { project_id: "p", instance_id: "i", task_id: `t${i}`, region: "eu-de", targets: [], labels: {}, timeout_s: 86_400 }, now);
  store.seed({ ...w, status: "processing", task_type: "import_api" });
}
const apig: TaskQuery = {
  queryTask: async () => {
    await sleep(latencyMs);
    return { ok: true, status: "processing", task_type: "import_api", task_result: "" };
  },
};
const deps = simLoopDeps({ store, apig, sender: { send: async () => ({ ok: true, status: 200 }) }, clock: () => new Date(), sleep, random: Math.random });

const cpu0 = process.cpuUsage();
const start = Date.now();
const sum = await runPollLoop(deps, createPollerState(), {
  shards: store.dueShards(),
  endAt: start + seconds * 1000,
  hardStopAt: start + seconds * 1000 + 5_000,
  concurrency,
  maxRps: rps,
  fullReadEveryMs: 60_000,
  pickupEveryMs: 5_000,
  pickupOverlapMs: 5_000,
});
const cpu = process.cpuUsage(cpu0);
const wall = (Date.now() - start) / 1000;
const cpuS = (cpu.user + cpu.system) / 1e6;
console.log(
  JSON.stringify({
    mode,
    rps,
    concurrency,
    latencyMs,
    polls: sum.polls,
    pollsPerS: Math.round((sum.polls / wall) * 10) / 10,
    loopCores: Math.round((cpuS / wall) * 1000) / 1000,
    cpuUsPerPoll: Math.round((cpuS / Math.max(1, sum.polls)) * 1e6),
    timersPerPoll: Math.round((timers / Math.max(1, sum.polls)) * 10) / 10,
  }),
);
