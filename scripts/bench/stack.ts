/**
 * The pieces a benchmark runs against, all on 127.0.0.1: dynalite in memory,
 * the APIG simulator with a fixed latency, a notification receiver that
 * records arrival times, and helpers to seed watches straight into the table.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type ApigSimulator, startApigSimulator } from "../../infra/dev/apig-simulator";
import { localDynamoClient, startDynalite } from "../../infra/dev/local/dynalite-server";
import { ensureTable } from "../../infra/table";
import { newWatch } from "../../lib/app/register";
import type { Watch } from "../../lib/domain/watch";
import { toItem } from "../../lib/store/item-codec";

export const SIM_TOKEN = `bench_${randomBytes(8).toString("hex")}`;
export const API_KEY = `bench_key_${randomBytes(8).toString("hex")}`;
export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export interface Receiver {
  url: string;
  /** Arrival time per task id (the first notification of each). */
  arrivals: Map<string, number>;
  close(): Promise<void>;
}

/** A webhook receiver that answers 200 at once and notes when each task's notification came. */
export async function startReceiver(): Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = Date.now();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data?: { task_id?: string } };
        const id = body.data?.task_id;
        if (id && !arrivals.has(id)) arrivals.set(id, at);
      } catch {
        // not ours
      }
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

export interface Stack {
  dynamoEndpoint: string;
  tableName: string;
  sim: ApigSimulator;
  raw: DynamoDBClient;
  db: DynamoDBDocumentClient;
  close(): Promise<void>;
}

/** `auth`: what the simulator accepts besides {@link SIM_TOKEN} (an AK/SK pair, for signed requests). */
export async function startStack(opts: { latencyMs: number; auth?: { accessKey: string; secretKey: string } }): Promise<Stack> {
  const dynamo = await startDynalite();
  const sim = await startApigSimulator({ latencyMs: opts.latencyMs, auth: { tokens: [SIM_TOKEN], ...opts.auth } });
  const tableName = `bench-${randomBytes(3).toString("hex")}`;
  const raw = localDynamoClient(dynamo.endpoint);
  await ensureTable(raw, tableName);
  const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    dynamoEndpoint: dynamo.endpoint,
    tableName,
    sim,
    raw,
    db,
    async close() {
      raw.destroy();
      await sim.close();
      await dynamo.close();
    },
  };
}

/** The environment the real handlers read, as the local stack sets it. */
export function handlerEnv(stack: Stack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DYNAMODB_ENDPOINT: stack.dynamoEndpoint,
    TABLE_NAME: stack.tableName,
    APIG_ENDPOINT: stack.sim.url,
    IAM_ENDPOINT: stack.sim.url,
    OTC_AUTH_TOKEN: SIM_TOKEN,
    API_KEYS: `bench:${sha256(API_KEY)}`,
    ALLOW_PRIVATE_TARGETS: "true",
    AWS_REGION: "eu-central-1",
    LOG_LEVEL: "WARN",
    ...extra,
  };
}

/**
 * Put `n` running watches straight into the table (and the simulator), as if
 * registered `ageMs(i)` ago and still processing: the background load.
 */
export async function seedRunning(
  stack: Stack,
  n: number,
  o: { prefix: string; ageMs: (i: number) => number; dueShards: number; webhookUrl?: string },
): Promise<void> {
  const now = Date.now();
  const items: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    const taskId = `${o.prefix}-${i}`;
    stack.sim.addTask({ projectId: "p", instanceId: "i", taskId, states: [{ status: "processing" }] });
    const w = newWatch(
      "bench",
      {
        project_id: "p",
        instance_id: "i",
        task_id: taskId,
        region: "eu-de",
        targets: o.webhookUrl ? [{ type: "webhook", url: o.webhookUrl, secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}` }] : [],
        labels: {},
        timeout_s: 7 * 86_400,
      },
      new Date(now - o.ageMs(i)),
    );
    const running: Watch = { ...w, status: "processing", task_type: "import_api", history: [...w.history, { status: "processing", at: w.created_at }] };
    items.push(toItem(running, { dueShards: o.dueShards, retentionDays: 30 }));
  }
  // 25 a batch, a few batches at a time.
  const batches: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  for (let i = 0; i < batches.length; i += 8) {
    await Promise.all(
      batches.slice(i, i + 8).map(async (batch) => {
        let pending = batch.map((Item) => ({ PutRequest: { Item } }));
        while (pending.length > 0) {
          const out = await stack.db.send(new BatchWriteCommand({ RequestItems: { [stack.tableName]: pending } }));
          pending = (out.UnprocessedItems?.[stack.tableName] ?? []) as typeof pending;
        }
      }),
    );
  }
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
