/**
 * Wiring: a validated {@link Config} -> the clients and dependencies the
 * handlers pass down. Built once per process (Lambda cold start) and reused.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Agent, type Dispatcher } from "./undici";
import { ApigClient, type AuthProvider } from "../otc/apig-client";
import { authFor } from "../otc/auth";
import type { Config } from "./config";
import type { ApiDeps } from "../http/router";
import { jsonLogger } from "./log";
import { httpSender } from "../notify/sender";
import { createGuardedAgent } from "../notify/ssrf-guard";
import { DynamoWatchRepository } from "../store/watch-repository";
import type { FaultObserver, Logger, TaskQuery } from "../app/ports";
import { cachedHealth } from "../app/health-report";
import { countingFaults, RegionHealth } from "../app/region-health";
import { RegionalTaskQuery } from "../otc/regional-apig";
import { DynamoHealthStore } from "../store/health-repository";

export interface RuntimeOverrides {
  log?: Logger;
  clock?: () => Date;
  random?: () => number;
  /** Dispatcher for APIG and IAM calls (default: one keep-alive pool per region). */
  apigDispatcher?: Dispatcher;
  /** Dispatcher for notification targets (default: the SSRF-guarded agent). */
  notifyDispatcher?: Dispatcher;
  auth?: AuthProvider;
  /** DynamoDB client (tests wrap one to count commands). */
  db?: DynamoDBDocumentClient;
  /** The metrics hook for region faults (default: an in-memory counter). */
  faults?: FaultObserver;
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

const newPool = () => new Agent({ keepAliveTimeout: 30_000, connections: 32, connect: { timeout: 5_000 } });

/**
 * APIG access for every served region: per region one client, one keep-alive
 * pool (unless a dispatcher is given) and one authentication (IAM tokens per
 * region), shared by all that region's watches.
 */
export function apigFor(config: Config, overrides: Pick<RuntimeOverrides, "auth" | "apigDispatcher"> = {}): RegionalTaskQuery {
  const byRegion = new Map<string, TaskQuery>();
  for (const [region, endpoints] of config.regions) {
    const dispatcher = overrides.apigDispatcher ?? newPool();
    const auth = overrides.auth ?? authFor(config, dispatcher, endpoints.iam);
    byRegion.set(region, new ApigClient({ endpoint: endpoints.apig, auth, dispatcher, timeoutMs: config.apigTimeoutMs }));
  }
  return new RegionalTaskQuery(byRegion);
}

/** Everything the API and the poller need, from one configuration. */
export function buildDeps(config: Config, overrides: RuntimeOverrides = {}): ApiDeps {
  const notifyDispatcher =
    overrides.notifyDispatcher ?? createGuardedAgent({ allowPrivate: config.allowPrivateTargets });
  const db = overrides.db ?? dynamoClient(config);
  const clock = overrides.clock ?? (() => new Date());
  const log = overrides.log ?? jsonLogger(undefined, { service: config.serviceName });
  const defaultTargets: ApiDeps["defaultTargets"] = [];
  if (config.slackWebhookUrl) defaultTargets.push({ type: "slack", url: config.slackWebhookUrl });
  if (config.defaultWebhook) defaultTargets.push({ type: "webhook", ...config.defaultWebhook });
  const healthStore = new DynamoHealthStore(db, config.tableName);
  const health = new RegionHealth({ store: healthStore, clock, log, faults: overrides.faults ?? countingFaults() });
  return {
    store: new DynamoWatchRepository(db, {
      tableName: config.tableName,
      cursorKey: config.cursorKey,
      dueShards: config.dueShards,
      retentionDays: config.retentionDays,
      onMalformed: (key: string, problem: string) => log.error("watch_malformed", { key: key.slice(0, 200), problem: problem.slice(0, 300) }),
    }),
    apig: health.observing(apigFor(config, overrides)),
    health,
    healthReport: cachedHealth(healthStore, clock, config.healthCacheS * 1000),
    regions: [...config.regions.keys()],
    sender: httpSender({ dispatcher: notifyDispatcher }),
    clock,
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
