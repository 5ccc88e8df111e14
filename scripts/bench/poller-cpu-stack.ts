/**
 * The far side of `poller-cpu.sh`, in a process of its own so that none of
 * its CPU is charged to the poller: dynalite in memory and the APIG simulator
 * (answering every task query after `latencyMs`, checking AK/SK signatures),
 * seeded with `watches` young running watches (15-45 s old) over 16 due shards. Prints one
 * JSON line (the endpoints, the table, the AK/SK), then serves until its
 * stdin closes, and then prints to stderr how many TCP connections the
 * simulator accepted (keep-alive at work, or not).
 *
 * It is built from the pieces every revision measured has (dynalite server,
 * simulator, `ensureTable`, `seedRunning`) so that `poller-cpu.sh` runs it
 * from the tree of the revision it measures: each poller then reads the
 * table and items its own code defines (at ec96256 a keys-only due index and
 * no poll facts in it; today the index carries them).
 *
 *   node --import tsx scripts/bench/poller-cpu-stack.ts [latencyMs=50] [watches=3000]
 */
import { randomBytes } from "node:crypto";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { startApigSimulator } from "../../infra/dev/apig-simulator";
import { localDynamoClient, startDynalite } from "../../infra/dev/local/dynalite-server";
import { ensureTable } from "../../infra/table";
import { seedRunning } from "./stack";

const [latArg = "50", watchesArg = "3000"] = process.argv.slice(2);
const accessKey = `AK${randomBytes(8).toString("hex").toUpperCase()}`;
const secretKey = randomBytes(20).toString("hex");
const dynamo = await startDynalite();
const sim = await startApigSimulator({ latencyMs: Number(latArg), auth: { accessKey, secretKey } });
const tableName = `bench-${randomBytes(3).toString("hex")}`;
const raw = localDynamoClient(dynamo.endpoint);
await ensureTable(raw, tableName);
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const stack = { dynamoEndpoint: dynamo.endpoint, tableName, sim, raw, db, close: async () => {} };
// Registered 15-45 s before: young (polled every 2-3 s), and due since before the loop starts, so the
// loop's first read takes them all and its pickups (which look 10 s back for new registrations) none.
await seedRunning(stack, Number(watchesArg), { prefix: "t", ageMs: (i) => 15_000 + (i % 31) * 1000, dueShards: 16 });
process.stdout.write(`${JSON.stringify({ dynamoEndpoint: dynamo.endpoint, tableName, apigUrl: sim.url, accessKey, secretKey })}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  process.stderr.write(`${JSON.stringify({ apigConnections: sim.connections(), apigRequests: sim.requests.length })}\n`);
  raw.destroy();
  void sim.close().then(async () => {
    await dynamo.close();
    process.exit(0);
  });
});
