/**
 * Wiring: a validated {@link Config} -> the clients and dependencies the
 * handlers pass down. Built once per process (Lambda cold start) and reused.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Agent, type Dispatcher } from "./undici";
import { ApigClient, type AuthProvider } from "../otc/apig-client";
import { ApigSubmitter } from "../otc/apig-submit";
import { authFor } from "../otc/auth";
import type { Config } from "./config";
import type { ApiDeps } from "../http/router";
import { createLogger } from "./log";
import { nullMetrics } from "./metrics";
import { httpSender } from "../notify/sender";
import { createGuardedAgent } from "../notify/ssrf-guard";
import { DynamoWatchRepository } from "../store/watch-repository";
import type { LoopDeps } from "../app/poll-loop";
import type { Logger, Metrics, TaskQuery } from "../app/ports";
import { DEFAULT_CADENCE } from "../domain/cadence";
import { pollerTiming } from "./timing";

export interface RuntimeOverrides {
  log?: Logger;
  metrics?: Metrics;
  clock?: () => Date;
  random?: () => number;
  /** Dispatcher for APIG and IAM calls. */
  apigDispatcher?: Dispatcher;
  /** Dispatcher for notification targets (default: the SSRF-guarded agent). */
  notifyDispatcher?: Dispatcher;
  auth?: AuthProvider;
  /** Waits on the clock; tests with a virtual clock pass one that advances it. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** DynamoDB client (tests wrap one to count commands). */
  db?: DynamoDBDocumentClient;
}

/** DynamoDB document client for the configured endpoint (dynalite locally). */
export function dynamoClient(config: Config): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: config.awsRegion,
    ...(config.dynamodbEndpoint
      ? {
          endpoint: config.dynamodbEndpoint,
          // dynalite ignores credentials, but the SDK insists on having some.
          credentials: { accessKeyId: "local", secretAccessKey: "local" },
        }
      : {}),
    maxAttempts: 3,
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** APIG access for the configured endpoint, one keep-alive pool shared by all watches. */
export function apigFor(config: Config, auth: AuthProvider, dispatcher: Dispatcher): TaskQuery {
  return new ApigClient({ endpoint: config.apigEndpoint, auth, dispatcher, timeoutMs: config.apigTimeoutMs });
}

/** `setTimeout` as a promise that an abort resolves early, clearing the timer. */
export function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** What the API and the poller run on. */
export type ServiceDeps = ApiDeps & LoopDeps;

/** Everything the API and the poller need, from one configuration. */
export function buildDeps(config: Config, overrides: RuntimeOverrides = {}): ServiceDeps {
  // As many connections as parallel queries, so a poll never queues for a socket.
  const apigDispatcher =
    overrides.apigDispatcher ??
    new Agent({ keepAliveTimeout: 30_000, connections: Math.max(16, config.pollConcurrency), connect: { timeout: 5_000 } });
  const notifyDispatcher =
    overrides.notifyDispatcher ?? createGuardedAgent({ allowPrivate: config.allowPrivateTargets });
  const auth = overrides.auth ?? authFor(config, apigDispatcher);
  const log = overrides.log ?? createLogger({ serviceName: config.serviceName, logLevel: config.logLevel });
  const defaultTargets: ApiDeps["defaultTargets"] = [];
  if (config.slackWebhookUrl) defaultTargets.push({ type: "slack", url: config.slackWebhookUrl });
  if (config.defaultWebhook) defaultTargets.push({ type: "webhook", ...config.defaultWebhook });
  return {
    store: new DynamoWatchRepository(overrides.db ?? dynamoClient(config), {
      tableName: config.tableName,
      dueShards: config.dueShards,
      retentionDays: config.retentionDays,
      onMalformed: (key: string, problem: string) => log.error("watch_malformed", { key: key.slice(0, 200), problem: problem.slice(0, 300) }),
    }),
    apig: apigFor(config, auth, apigDispatcher),
    submitter: new ApigSubmitter({ endpoint: config.apigEndpoint, auth, dispatcher: apigDispatcher, timeoutMs: config.apigTimeoutMs }),
    sender: httpSender({ dispatcher: notifyDispatcher }),
    clock: overrides.clock ?? (() => new Date()),
    sleep: overrides.sleep ?? sleepFor,
    cadence: { ...DEFAULT_CADENCE, backoffCapMs: config.backoffCapS * 1000 },
    random: overrides.random ?? Math.random,
    log,
    // Without an owner to flush them (tests, tools), metrics are not kept.
    metrics: overrides.metrics ?? nullMetrics,
    rules: { notFoundGraceMs: config.notFoundGraceS * 1000 },
    retryScheduleS: config.notifyRetryS,
    leaseMs: pollerTiming(config).leaseMs,
    apiKeys: config.apiKeys,
    allowPrivateTargets: config.allowPrivateTargets,
    defaultRegion: config.region,
    defaultTimeoutS: config.defaultTimeoutS,
    defaultTargets,
  };
}
