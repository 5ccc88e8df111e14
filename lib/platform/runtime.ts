/**
 * Wiring: a validated {@link Config} -> the clients and dependencies the
 * handlers pass down. Built once per process (Lambda cold start) and reused.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { Agent, type Dispatcher } from "../net/undici";
import { ApigClient, type AuthProvider } from "../otc/apig-client";
import { ApigSubmitter } from "../otc/apig-submit";
import { authFor } from "../otc/auth";
import type { Config } from "./config";
import type { ApiDeps } from "../http/router";
import { createLogger } from "../aws/log";
import { nullMetrics } from "../aws/metrics";
import { httpSender } from "../notify/sender";
import { createGuardedAgent } from "../notify/ssrf-guard";
import { DynamoWatchRepository } from "../store/watch-repository";
import type { LoopDeps } from "../app/poll-loop";
import type { FaultObserver, Logger, Metrics, TaskQuery, TaskSubmitter } from "../app/ports";
import { cachedHealth } from "../app/health-report";
import { logAwsError } from "../aws/aws-error";
import { countingFaults, RegionHealth } from "../app/region-health";
import { DEFAULT_CADENCE } from "../domain/cadence";
import { RegionalSubmitter, RegionalTaskQuery } from "../otc/regional-apig";
import { DynamoExportStore } from "../store/export-repository";
import { DynamoHealthStore } from "../store/health-repository";
import { DynamoSubscriptionRepository } from "../store/subscription-repository";
import { pollerTiming } from "../app/timing";

export interface RuntimeOverrides {
  log?: Logger;
  metrics?: Metrics;
  clock?: () => Date;
  random?: () => number;
  /** Dispatcher for APIG and IAM calls (default: one keep-alive pool per region). */
  apigDispatcher?: Dispatcher;
  /** Dispatcher for notification targets (default: the SSRF-guarded agent). */
  notifyDispatcher?: Dispatcher;
  /** One authentication for every region (tests). */
  auth?: AuthProvider;
  /** The authentication of one credential set in one region, given its IAM endpoint (secret rotation wraps each). */
  regionAuth?: (credentialSet: string, region: string, iamEndpoint: string) => AuthProvider;
  /** Waits on the clock; tests with a virtual clock pass one that advances it. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
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

/**
 * APIG access for every credential set in every served region: per (set,
 * region) one client for task queries and one for submissions, with one
 * authentication (IAM tokens per set, project and region) shared by all its
 * watches; per region one keep-alive pool with as many connections as
 * parallel polls (so a poll never queues for a socket), shared by the sets.
 */
export function apigFor(
  config: Config,
  overrides: Pick<RuntimeOverrides, "auth" | "regionAuth" | "apigDispatcher"> = {},
): { query: RegionalTaskQuery; submitter: TaskSubmitter } {
  const queries = new Map<string, Map<string, TaskQuery>>();
  const submitters = new Map<string, Map<string, TaskSubmitter>>();
  const pools = new Map<string, Dispatcher>();
  for (const [set, credentials] of config.credentials) {
    const q = new Map<string, TaskQuery>();
    const s = new Map<string, TaskSubmitter>();
    for (const [region, endpoints] of config.regions) {
      let dispatcher = overrides.apigDispatcher ?? pools.get(region);
      if (dispatcher === undefined) {
        dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: Math.max(16, config.pollConcurrency), connect: { timeout: 5_000 } });
        pools.set(region, dispatcher);
      }
      const auth = overrides.regionAuth?.(set, region, endpoints.iam) ?? overrides.auth ?? authFor(credentials, dispatcher, endpoints.iam);
      const client = { endpoint: endpoints.apig, auth, dispatcher, timeoutMs: config.apigTimeoutMs };
      q.set(region, new ApigClient(client));
      s.set(region, new ApigSubmitter(client));
    }
    queries.set(set, q);
    submitters.set(set, s);
  }
  return { query: new RegionalTaskQuery(queries), submitter: new RegionalSubmitter(submitters) };
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
  const notifyDispatcher =
    overrides.notifyDispatcher ?? createGuardedAgent({ allowPrivate: config.allowPrivateTargets });
  const db = overrides.db ?? dynamoClient(config);
  const clock = overrides.clock ?? (() => new Date());
  const log = overrides.log ?? createLogger({ serviceName: config.serviceName, logLevel: config.logLevel });
  const otc = apigFor(config, overrides);
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
    apig: health.observing(otc.query),
    submitter: otc.submitter,
    health,
    healthReport: cachedHealth(healthStore, clock, config.healthCacheS * 1000, (err) => logAwsError(log, "health_read_failed", err)),
    regions: [...config.regions.keys()],
    sender: httpSender({
      dispatcher: notifyDispatcher,
      pagerdutyEventsUrl: config.channels.pagerdutyEventsUrl,
      eventBridge: { credentials: config.channels.awsCredentials, endpoint: config.channels.eventBridgeEndpoint },
      // The operator's endpoint overrides may be local; user URLs never take this path.
      trustedDispatcher: overrides.notifyDispatcher ?? new Agent({ connections: 16 }),
    }),
    eventBusArns: config.channels.eventBusArns,
    exports: new DynamoExportStore(db, { tableName: config.tableName, retentionDays: config.retentionDays }),
    publicUrl: config.channels.publicUrl,
    subscriptions: new DynamoSubscriptionRepository(db, config.tableName, (key, problem) => log.error("subscription_malformed", { key: key.slice(0, 200), problem })),
    clock,
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
    readUrl: config.readUrl,
    servedRoutes: config.servedRoutes,
    defaultRegion: config.region,
    defaultTimeoutS: config.defaultTimeoutS,
    defaultTargets,
    tenancy: config.tenancy,
  };
}
