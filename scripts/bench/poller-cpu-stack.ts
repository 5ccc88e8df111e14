/**
 * The far side of `poller-cpu.sh`, in a process of its own so that none of
 * its CPU is charged to the poller: dynalite in memory and the APIG simulator
 * (answering every task query after `latencyMs`, checking AK/SK signatures),
 * seeded with `watches` young running watches (15-45 s old) over 16 due shards. Prints one
 * JSON line (the endpoints, the table, the AK/SK), then serves until its
 * stdin closes, and then prints to stderr how many TCP connections the
 * simulator accepted (keep-alive at work, or not).
 *
 *   node <bundle> [latencyMs=50] [watches=3000]
 */
import { randomBytes } from "node:crypto";
import { seedRunning, startStack } from "./stack";

const [latArg = "50", watchesArg = "3000"] = process.argv.slice(2);
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(20).toString("hex");
const stack = await startStack({ latencyMs: Number(latArg), auth: { accessKey, secretKey } });
// Registered 15-45 s before: young (polled every 2-3 s), and due since before the loop starts, so the
// loop's first read takes them all and its pickups (which look 10 s back for new registrations) none.
await seedRunning(stack, Number(watchesArg), { prefix: "t", ageMs: (i) => 15_000 + (i % 31) * 1000, dueShards: 16 });
process.stdout.write(
  `${JSON.stringify({ dynamoEndpoint: stack.dynamoEndpoint, tableName: stack.tableName, apigUrl: stack.sim.url, accessKey, secretKey })}\n`,
);
process.stdin.resume();
process.stdin.on("end", () => {
  process.stderr.write(`${JSON.stringify({ apigConnections: stack.sim.connections(), apigRequests: stack.sim.requests.length })}\n`);
  void stack.close().then(() => process.exit(0));
});
