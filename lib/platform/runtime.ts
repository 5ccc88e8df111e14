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
import { jsonLogger } from "./log";
import { httpSender } from "../notify/sender";
import { createGuardedAgent } from "../notify/ssrf-guard";
import { DynamoWatchRepository } from "../store/watch-repository";
import type { Logger, TaskQuery } from "../app/ports";

export interface RuntimeOverrides {
  log?: Logger;
  clock?: () => Date;
  random?: () => number;
  /** Dispatcher for APIG and IAM calls. */
  apigDispatcher?: Dispatcher;
  /** Dispatcher for notification targets (default: the SSRF-guarded agent). */
  notifyDispatcher?: Dispatcher;
  auth?: AuthProvider;
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

/** Everything the API and the poller need, from one configuration. */
export function buildDeps(config: Config, overrides: RuntimeOverrides = {}): ApiDeps {
  const apigDispatcher =
    overrides.apigDispatcher ?? new Agent({ keepAliveTimeout: 30_000, connections: 32, connect: { timeout: 5_000 } });
  const notifyDispatcher =
    overrides.notifyDispatcher ?? createGuardedAgent({ allowPrivate: config.allowPrivateTargets });
  const auth = overrides.auth ?? authFor(config, apigDispatcher);
  const log = overrides.log ?? jsonLogger(undefined, { service: config.serviceName });
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
    random: overrides.random ?? Math.random,
    log,
    rules: { notFoundGraceMs: config.notFoundGraceS * 1000 },
    backoff: { tickMs: config.pollIntervalS * 1000, capMs: config.backoffCapS * 1000 },
    retryScheduleS: config.notifyRetryS,
    // One round of tries is at most 15 s (tries run in parallel); 60 s of
    // lease leaves room for a slow write before another tick may take over.
    leaseMs: 60_000,
    apiKeys: config.apiKeys,
    allowPrivateTargets: config.allowPrivateTargets,
    defaultRegion: config.region,
    defaultTimeoutS: config.defaultTimeoutS,
    defaultTargets,
  };
}
