/**
 * The floor under `poller-cpu.ts`: the bare APIG task query at 200 a second
 * (about 10 in flight), signed with AK/SK and sent with `requestCapped` over
 * an undici Agent as the poller's, its answer JSON-parsed, and nothing else:
 * no loop, no rate limiter, no store, no metrics, no logs. What a poll costs
 * beyond this is the poller's own; this much is the HTTP client, the signing
 * and the kernel's share of a loopback request.
 *
 *   node <bundle> <stack.json> [seconds=30]   (stack.json: from poller-cpu-stack.ts)
 */
import { readFileSync } from "node:fs";
import { requestCapped } from "../../lib/net/http-request";
import { Agent } from "../../lib/net/undici";
import { signRequest } from "../../lib/otc/signer";

const [stackFile, secondsArg = "30"] = process.argv.slice(2);
if (!stackFile) throw new Error("usage: poller-cpu-floor <stack.json> [seconds]");
const stack = JSON.parse(readFileSync(stackFile, "utf8")) as { apigUrl: string; accessKey: string; secretKey: string };
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 64, connect: { timeout: 5_000 } });
const creds = { accessKey: stack.accessKey, secretKey: stack.secretKey };
const end = Date.now() + Number(secondsArg) * 1000;
let done = 0;
const query = async (i: number) => {
  const url = new URL(`${stack.apigUrl}/v2/p/apigw/instances/i/async-tasks/t-${i % 3000}`);
  const headers = signRequest({ method: "GET", url, headers: { host: url.host, "content-type": "application/json", "x-project-id": "p" } }, creds, new Date());
  const res = await requestCapped(url, { method: "GET", headers, dispatcher: agent, timeoutMs: 10_000, maxBodyBytes: 8 << 20, overflow: "fail" });
  JSON.parse(res.body);
  done++;
};
const cpu0 = process.cpuUsage();
const t0 = Date.now();
const inFlight = new Set<Promise<void>>();
let sent = 0;
await new Promise<void>((finished) => {
  // 2 every 10 ms: 200 a second.
  const tick = setInterval(() => {
    if (Date.now() >= end) {
      clearInterval(tick);
      void Promise.all(inFlight).then(() => finished());
      return;
    }
    for (let k = 0; k < 2; k++) {
      const p: Promise<void> = query(sent++).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }, 10);
});
const cpu = process.cpuUsage(cpu0);
const wall = (Date.now() - t0) / 1000;
process.stderr.write(
  `${JSON.stringify({
    queries: done,
    queriesPerS: Math.round((done / wall) * 10) / 10,
    cpuUsPerQuery: Math.round((cpu.user + cpu.system) / Math.max(1, done)),
    userUsPerQuery: Math.round(cpu.user / Math.max(1, done)),
    sysUsPerQuery: Math.round(cpu.system / Math.max(1, done)),
  })}\n`,
);
process.exit(0);
