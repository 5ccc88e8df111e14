/**
 * The whole service wired for integration tests: dynalite, the APIG simulator,
 * the HTTP API behind the real API Gateway v2 adapter, all on 127.0.0.1.
 */
import { createHash, randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { request } from "undici";
import { type ApigSimulator, type SimulatorOptions, startApigSimulator, type TaskState } from "../../infra/dev/apig-simulator";
import { localDynamoClient, startDynalite } from "../../infra/dev/local/dynalite-server";
import { createLambdaHttpServer } from "../../infra/dev/local/http-adapter";
import { type CapacityTotals, meterCapacity } from "../../infra/dev/capacity-meter";
import { ensureTable } from "../../infra/table";
import type { WatchView } from "../../lib/domain/watch-view";
import { fromApiGatewayEvent, toApiGatewayResult } from "../../lib/http/apigw-event";
import { loadConfig } from "../../lib/platform/config";
import { type ApiDeps, handleHttp } from "../../lib/http/router";
import { createLogger } from "../../lib/aws/log";
import { buildDeps, type RuntimeOverrides, type ServiceDeps } from "../../lib/platform/runtime";
import { createPollerState, type LoopOptions, type LoopSummary, runPollLoop } from "../../lib/app/poll-loop";

/** The error shape every 4xx/5xx of the API carries. */
export interface ApiError {
  code: string;
  message: string;
  /** Sent with `validation_failed`. */
  issues: Array<{ path: string; message: string }>;
  /** Sent with `apig_rejected`: APIG's own refusal. */
  apig?: { http_status: number; error_code: string; error_msg: string };
  /** Sent with `spec_rejected`: the import gate's findings. */
  check?: import("../../lib/domain/import-finding").ImportCheck;
}

/**
 * A JSON answer of the API, typed as all of its documented shapes at once (a
 * watch, a list page, an error, the health answer) so a test reads the fields
 * its route returns without casts; a field the route did not send is simply
 * undefined at run time and fails the test that expects it.
 */
export type ApiBody = WatchView & {
  items: WatchView[];
  next_cursor: string | null;
  error: ApiError;
  checks: Record<string, unknown>;
};

export interface ApiAnswer {
  status: number;
  json: ApiBody;
  text: string;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
}

export const SIM_TOKEN = "sim-static-token-0123456789";
export const KEYS = { acme: "key-acme-0123456789", other: "key-other-0123456789" };
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

export interface Harness {
  deps: ServiceDeps;
  /** The document client the service uses, for tests that plant items. */
  db: DynamoDBDocumentClient;
  tableName: string;
  sim: ApigSimulator;
  apiUrl: string;
  logs: string[];
  /** Capacity units the service's commands cost, table and indexes (see infra/dev/capacity-meter.ts). */
  capacity: CapacityTotals;
  /**
   * DynamoDB commands sent, by name (PutItemCommand, QueryCommand, ...); the
   * poller's `health` items (at most a write a minute a region) count apart,
   * as `HealthPutItemCommand`, so "a poll writes nothing" stays checkable.
   */
  commands: Record<string, number>;
  call(method: string, path: string, opts?: { body?: unknown; raw?: string | Buffer; key?: string | null; headers?: Record<string, string> }): Promise<ApiAnswer>;
  /**
   * A task the simulator knows in the project and instance `registration()`
   * uses, answering `states` one query after another (then the last one
   * forever). A bare string is a status with an empty result.
   */
  task(taskId: string, states: Array<TaskState | TaskState["status"]>, taskType?: "import_api" | "export_api" | null): void;
  /**
   * One round of the poller as a cold container runs it: read the due set,
   * handle every watch due now once, stop. `opts` override the loop's options.
   */
  tick(deps?: ServiceDeps, opts?: Partial<LoopOptions>): Promise<LoopSummary>;
  /** Run `fn` while the poller ticks every 200 ms, as the deployed schedule would; the ticking ends with it. */
  whileTicking<T>(fn: () => Promise<T>): Promise<T>;
  /** A second set of dependencies on the same table, like a second Lambda container. */
  twin(overrides?: RuntimeOverrides): ServiceDeps;
  close(): Promise<void>;
}

export async function startHarness(
  opts: { env?: Record<string, string>; overrides?: RuntimeOverrides; sim?: SimulatorOptions } = {},
): Promise<Harness> {
  const dynamo = await startDynalite();
  const sim = await startApigSimulator({ ...opts.sim, auth: { tokens: [SIM_TOKEN], ...opts.sim?.auth } });
  const tableName = `watches-${randomBytes(4).toString("hex")}`;
  const raw = localDynamoClient(dynamo.endpoint);
  await ensureTable(raw, tableName);
  const commands: Record<string, number> = {};
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      const input = (args as { input?: { Item?: { pk?: unknown } } }).input;
      const pk = input?.Item?.pk;
      const health = pk === "health" || (typeof pk === "object" && pk !== null && (pk as { S?: unknown }).S === "health");
      const name = `${health ? "Health" : ""}${String(context.commandName)}`;
      commands[name] = (commands[name] ?? 0) + 1;
      return next(args);
    },
    { step: "initialize", name: "countCommands" },
  );
  const reader = localDynamoClient(dynamo.endpoint);
  const capacity = meterCapacity(raw, reader);
  const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const config = loadConfig({
    API_KEYS: `acme:${sha(KEYS.acme)},other:${sha(KEYS.other)}`,
    APIG_ENDPOINT: sim.url,
    IAM_ENDPOINT: sim.url,
    OTC_AUTH_TOKEN: SIM_TOKEN,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    TABLE_NAME: tableName,
    ALLOW_PRIVATE_TARGETS: "true",
    APIG_TIMEOUT_MS: "2000",
    // Every /health call reads the table, so a test sees what a tick just wrote.
    HEALTH_CACHE_S: "0",
    ...opts.env,
  });
  const logs: string[] = [];
  const build = (o: RuntimeOverrides = {}) =>
    buildDeps(config, { db, log: createLogger({ serviceName: "test", logLevel: "DEBUG", sink: (l) => logs.push(l) }), ...opts.overrides, ...o });
  const deps = build();
  const server = createLambdaHttpServer(async (event) => toApiGatewayResult(await handleHttp(deps, fromApiGatewayEvent(event))));
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    deps,
    db,
    tableName,
    sim,
    apiUrl,
    logs,
    commands,
    capacity: capacity.totals,
    async call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const key = o.key === undefined ? KEYS.acme : o.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | Buffer | undefined = o.raw;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers["content-type"] ??= "application/json";
      }
      const res = await request(apiUrl + path, { method: method as "GET", headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.body.text();
      let json: ApiBody | null = null;
      try {
        json = JSON.parse(text) as ApiBody;
      } catch {
        json = null;
      }
      // A test that expects JSON and got none fails on its first field access.
      return { status: res.statusCode, json: json as ApiBody, text, headers: res.headers };
    },
    task(taskId, states, taskType = "import_api") {
      sim.addTask({
        projectId: "proj1",
        instanceId: "inst1",
        taskId,
        ...(taskType ? { taskType } : {}),
        states: states.map((st) => (typeof st === "string" ? { status: st } : st)),
      });
    },
    tick: (d = deps, o = {}) => runPollLoop(d, createPollerState(), { ...oneRound(d), ...o }),
    async whileTicking(fn) {
      let stop = false;
      const ticking = (async () => {
        while (!stop) {
          await runPollLoop(deps, createPollerState(), oneRound(deps));
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      try {
        return await fn();
      } finally {
        stop = true;
        await ticking;
      }
    },
    twin: (o) => build(o),
    async close() {
      await new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      });
      await sim.close();
      raw.destroy();
      reader.destroy();
      await dynamo.close();
    },
  };
}

/** Loop options for one round at the deps' current time: everything due now, once. */
export function oneRound(d: ServiceDeps): LoopOptions {
  const now = d.clock().getTime();
  return {
    shards: d.store.dueShards(),
    once: true,
    endAt: now,
    hardStopAt: now + 60_000,
    concurrency: 8,
    maxRps: 10_000,
    fullReadEveryMs: 60_000,
    pickupEveryMs: 5_000,
    pickupOverlapMs: 5_000,
  };
}

/** A registration body for the simulator's project and instance. */
export function registration(taskId: string, notify: unknown[] = [], extra: Record<string, unknown> = {}) {
  return { project_id: "proj1", instance_id: "inst1", task_id: taskId, notify, ...extra };
}
