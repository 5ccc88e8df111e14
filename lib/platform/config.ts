/**
 * Environment -> typed, validated configuration. The only place that knows
 * variable names; every error names the variable at fault and never echoes a
 * secret value.
 */
import { ConfigError } from "../domain/errors";
export { ConfigError };
import { createHash } from "node:crypto";
import { WebhookSecret } from "../domain/target";
import { RegionId } from "../domain/watch";
import * as z from "../domain/zod";
import { checkTargetUrl } from "../domain/target-url";
import { type Endpoints, builtInEndpoints } from "../otc/endpoints";
import type { OtcAuth } from "../otc/auth";
import type { ApiKeyHash } from "../http/auth";
import { parseLogLevel, type LogLevel } from "../aws/log";
import { MAX_DUE_SHARDS } from "../store/item-codec";
import { type ChannelConfig, loadChannelConfig } from "./channel-config";
import { DEFAULT_CREDENTIAL_SET, type Tenancy } from "../domain/tenancy";
import { credentialSets, tenancyOf } from "./credentials";
export { parseLogLevel, type LogLevel, type OtcAuth, type ApiKeyHash };

export interface Config {
  /** Names this deployment in logs and metrics (`apig-taskwatch-prod`). */
  serviceName: string;
  /** Default region of a registration (`OTC_REGION`). */
  region: string;
  /** APIG endpoint of `region`. */
  apigEndpoint: string;
  /** IAM endpoint of `region`. */
  iamEndpoint: string;
  /** The regions this deployment serves, each with its endpoints; `region` is one of them. */
  regions: Map<string, Endpoints>;
  /** Key of the MAC on `GET /tasks` cursors (`CURSOR_SECRET`, or derived per deployment). */
  cursorKey: Buffer;
  /** How long one container reuses its `GET /health` answer. */
  healthCacheS: number;
  /** The `default` credential set (what a deployment with one set uses everywhere). */
  auth: OtcAuth;
  /** Every credential set by name (`OTC_CREDENTIALS`, or the separate variables as `default`). */
  credentials: Map<string, OtcAuth>;
  /** Scopes and credential sets per tenant (`TENANT_PROJECTS`, `TENANT_CREDENTIALS`). */
  tenancy: Tenancy;
  apiKeys: ApiKeyHash[];
  slackWebhookUrl: string | null;
  defaultWebhook: { url: string; secret: string } | null;
  allowPrivateTargets: boolean;
  /**
   * `READ_URL`: where clients read a watch without API Gateway (the read
   * function's URL, written to SSM by the stack); answers name it in a
   * `Link: rel="monitor"` header. Null: clients read through the API.
   */
  readUrl: string | null;
  /** `SERVED_ROUTES`: the routes this function answers (`GET /tasks/{task_id}`, comma-separated); null for all. */
  servedRoutes: string[] | null;
  tableName: string;
  /** Set for dynalite / DynamoDB Local; unset in AWS. */
  dynamodbEndpoint: string | null;
  awsRegion: string;
  port: number;
  /** The poller's schedule: one invocation per interval (60 s, as deployed). */
  pollIntervalS: number;
  /** Longest pause between polls of a task whose APIG queries keep failing. */
  backoffCapS: number;
  dataDir: string;
  notFoundGraceS: number;
  notifyRetryS: number[];
  defaultTimeoutS: number;
  /** Parallel APIG queries in one poller invocation; the APIG connection pool is as large. */
  pollConcurrency: number;
  /** APIG queries per second per region, at most (halved on APIG.9008, then grown back). */
  apigMaxRps: number;
  /** Partitions of the due index; watches spread over them by task id. */
  dueShards: number;
  apigTimeoutMs: number;
  /** Days a finished watch is kept before DynamoDB TTL removes it. */
  retentionDays: number;
  /** Lines below this level are not logged. */
  logLevel: LogLevel;
  /** In AWS: how long secrets read from SSM are used before they are read again. */
  secretsTtlS: number;
  /** PagerDuty and EventBridge (`channel-config.ts`). */
  channels: ChannelConfig;
}


const opt = (v: string | undefined) => {
  const t = v?.trim();
  return t === undefined || t === "" ? undefined : t;
};
const httpUrl = z.pipe(
  z.string().check(
    z.trim(),
    z.refine((s) => {
      try {
        const u = new URL(s);
        return u.protocol === "http:" || u.protocol === "https:";
      } catch {
        return false;
      }
    }, "must be an http(s) URL"),
  ),
  z.transform((s) => s.replace(/\/+$/, "")),
);
const int = (min: number, max: number) =>
  z.pipe(
    z.string().check(z.trim(), z.regex(/^\d+$/, "must be a whole number")),
    z.pipe(z.transform(Number), z.int().check(z.minimum(min), z.maximum(max))),
  );
const bool = z.pipe(
  z.string().check(
    z.trim(),
    z.toLowerCase(),
    z.refine((s) => ["true", "false", "1", "0", "yes", "no", ""].includes(s), "must be true or false"),
  ),
  z.transform((s) => s === "true" || s === "1" || s === "yes"),
);

const apiKeysSchema = z.pipe(
  z.string(),
  z.transform((s, ctx) => {
    const out: ApiKeyHash[] = [];
    for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
      const m = /^([A-Za-z0-9_.-]{1,64}):([0-9a-fA-F]{64})$/.exec(part);
      if (!m) {
        ctx.issues.push({ code: "custom", message: "each entry must be tenant:sha256hex (64 hex digits)", input: s });
        return z.NEVER;
      }
      out.push({ tenant: m[1]!, hash: Buffer.from(m[2]!, "hex") });
    }
    return out;
  }),
);

/** `region=url,...`: one parser for APIG_ENDPOINTS and IAM_ENDPOINTS. */
const endpointMap = z.pipe(
  z.string(),
  z.transform((s, ctx) => {
    const out = new Map<string, string>();
    for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
      const eq = part.indexOf("=");
      const region = part.slice(0, eq).trim();
      const url = httpUrl.safeParse(part.slice(eq + 1));
      if (eq < 1 || !RegionId.safeParse(region).success || !url.success) {
        ctx.issues.push({ code: "custom", message: "each entry must be region=http(s)-url, the region like eu-de", input: s });
        return z.NEVER;
      }
      out.set(region, url.data);
    }
    return out;
  }),
);

/** `REGIONS`: comma-separated region ids, each checked like a registration's `region`. */
const regionList = z.pipe(
  z.string(),
  z.transform((s, ctx) => {
    const out: string[] = [];
    for (const r of s.split(",").map((p) => p.trim()).filter(Boolean)) {
      if (!RegionId.safeParse(r).success) {
        ctx.issues.push({ code: "custom", message: `"${r.slice(0, 40)}" is not a region id (lowercase letters, digits, dashes, like eu-de)`, input: s });
        return z.NEVER;
      }
      if (!out.includes(r)) out.push(r);
    }
    return out;
  }),
);

const retrySchema = z.pipe(
  z.string().check(z.trim(), z.regex(/^\d+(\s*,\s*\d+)*$/, "must be comma-separated whole seconds")),
  z.transform((s) => s.split(",").map((p) => Number(p.trim()))),
);

const logLevelSchema = z.pipe(
  z.string().check(z.refine((s) => parseLogLevel(s) !== undefined, "must be one of debug, info, warn, error, silent")),
  z.transform((s) => parseLogLevel(s)!),
);

function field<T>(env: Env, name: string, schema: z.ZodMiniType<T, string>, issues: ConfigError["issues"], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  issues.push({ variable: name, message: r.error.issues[0]?.message ?? "invalid" });
  return fallback;
}

export type { Env } from "../aws/ssm-env";
import type { Env } from "../aws/ssm-env";

/**
 * Read the configuration from an environment record (usually `process.env`).
 * Throws {@link ConfigError} listing every bad variable at once.
 */
export function loadConfig(env: Env): Config {
  const issues: ConfigError["issues"] = [];
  const s = (name: string) => opt(env[name]);

  const region = field(env, "OTC_REGION", RegionId, issues, "eu-de");
  const regions = servedRegions(env, region, issues);
  const home = regions.get(region) ?? builtInEndpoints(region);

  const credentials = credentialSets(env, issues);

  const allowPrivateTargets = field(env, "ALLOW_PRIVATE_TARGETS", bool, issues, false);
  const slack = field(env, "SLACK_WEBHOOK_URL", targetUrl(allowPrivateTargets), issues, null as string | null);
  const whUrl = field(env, "DEFAULT_WEBHOOK_URL", targetUrl(allowPrivateTargets), issues, null as string | null);
  const whSecret = s("DEFAULT_WEBHOOK_SECRET") ?? null;
  if ((whUrl === null) !== (whSecret === null) && !issues.some((i) => i.variable === "DEFAULT_WEBHOOK_URL")) {
    issues.push({
      variable: whUrl === null ? "DEFAULT_WEBHOOK_URL" : "DEFAULT_WEBHOOK_SECRET",
      message: "DEFAULT_WEBHOOK_URL and DEFAULT_WEBHOOK_SECRET go together",
    });
  }
  // The same check as a registered secret: one that passes here signs every delivery.
  if (whSecret !== null) field(env, "DEFAULT_WEBHOOK_SECRET", WebhookSecret, issues, whSecret);

  const retry = field(env, "NOTIFY_RETRY_S", retrySchema, issues, [5, 300, 1800, 7200, 18000, 36000, 36000]);

  const apiKeys = field(env, "API_KEYS", apiKeysSchema, issues, []);
  const tenancy = tenancyOf(env, credentials, apiKeys, issues);
  const tableName = s("TABLE_NAME") ?? "apig-taskwatch";
  const serviceName = s("SERVICE_NAME") ?? "apig-taskwatch";
  const cursorSecret = field(env, "CURSOR_SECRET", z.string().check(z.trim(), z.minLength(16, "must be at least 16 characters")), issues, null as string | null);

  const config: Config = {
    serviceName,
    region,
    apigEndpoint: home.apig,
    iamEndpoint: home.iam,
    regions,
    cursorKey: cursorKeyOf(cursorSecret, serviceName, tableName, apiKeys),
    healthCacheS: field(env, "HEALTH_CACHE_S", int(0, 300), issues, 12),
    auth: credentials.get(DEFAULT_CREDENTIAL_SET) ?? { method: "none" },
    credentials,
    tenancy,
    apiKeys,
    slackWebhookUrl: slack,
    defaultWebhook: whUrl !== null && whSecret !== null ? { url: whUrl, secret: whSecret } : null,
    allowPrivateTargets,
    readUrl: field(env, "READ_URL", httpUrl, issues, null as string | null)?.replace(/\/+$/, "") ?? null,
    servedRoutes: s("SERVED_ROUTES")?.split(",").map((r) => r.trim().replace(/\s+/g, " ")).filter((r) => r.length > 0) ?? null,
    tableName,
    dynamodbEndpoint: field(env, "DYNAMODB_ENDPOINT", httpUrl, issues, null as string | null),
    awsRegion: s("AWS_REGION") ?? s("AWS_DEFAULT_REGION") ?? "eu-central-1",
    port: field(env, "PORT", int(0, 65535), issues, 3000),
    pollIntervalS: field(env, "POLL_INTERVAL_S", int(1, 3600), issues, 60),
    backoffCapS: field(env, "BACKOFF_CAP_S", int(1, 86400), issues, 300),
    dataDir: s("DATA_DIR") ?? ".data",
    notFoundGraceS: field(env, "NOT_FOUND_GRACE_S", int(0, 30 * 86400), issues, 600),
    notifyRetryS: retry,
    defaultTimeoutS: field(env, "DEFAULT_TIMEOUT_S", int(60, 30 * 86400), issues, 86400),
    pollConcurrency: field(env, "POLL_CONCURRENCY", int(1, 256), issues, 64),
    apigMaxRps: field(env, "APIG_MAX_RPS", int(1, 10_000), issues, 200),
    dueShards: field(env, "DUE_SHARDS", int(1, MAX_DUE_SHARDS), issues, 16),
    apigTimeoutMs: field(env, "APIG_TIMEOUT_MS", int(100, 120_000), issues, 10_000),
    retentionDays: field(env, "RETENTION_DAYS", int(1, 3650), issues, 30),
    logLevel: field(env, "LOG_LEVEL", logLevelSchema, issues, "INFO"),
    secretsTtlS: field(env, "SECRETS_TTL_S", int(10, 86400), issues, 300),
    channels: loadChannelConfig(env, issues),
  };

  if (issues.length > 0) {
    // One line per bad variable: start-up prints this as it is.
    throw new ConfigError("invalid configuration:\n" + issues.map((i) => `  ${i.variable}: ${i.message}`).join("\n"), issues);
  }
  return config;
}

/**
 * A default target is sent to without any request checking it, so one that
 * could never be delivered (not https, a private address without
 * ALLOW_PRIVATE_TARGETS) must stop the start rather than die in the outbox.
 */
const targetUrl = (allowPrivate: boolean) =>
  z.pipe(
    z.string().check(
      z.trim(),
      z.superRefine((s, ctx) => {
        const r = checkTargetUrl(s, { allowPrivate });
        if (!r.ok) {
          const hint = allowPrivate ? "" : " (ALLOW_PRIVATE_TARGETS=true allows http and private addresses for local runs)";
          ctx.addIssue({ code: "custom", message: `${r.message}; it could never be delivered${hint}`, input: s });
        }
      }),
    ),
    z.transform((s) => s),
  );

/**
 * The regions served and their endpoints: `REGIONS`, or `OTC_REGION` plus
 * every region `APIG_ENDPOINTS` names; each region's endpoints from
 * `APIG_ENDPOINTS` / `IAM_ENDPOINTS`, then `APIG_ENDPOINT` / `IAM_ENDPOINT`
 * for `OTC_REGION` alone, then the built-in table.
 */
function servedRegions(env: Env, home: string, issues: ConfigError["issues"]): Map<string, Endpoints> {
  const apigMap = field(env, "APIG_ENDPOINTS", endpointMap, issues, new Map<string, string>());
  const iamMap = field(env, "IAM_ENDPOINTS", endpointMap, issues, new Map<string, string>());
  const apigHome = field(env, "APIG_ENDPOINT", httpUrl, issues, null as string | null);
  const iamHome = field(env, "IAM_ENDPOINT", httpUrl, issues, null as string | null);
  const listed = field(env, "REGIONS", regionList, issues, null as string[] | null);
  const served = listed ?? [home, ...[...apigMap.keys()].filter((r) => r !== home)];
  if (listed !== null && !listed.includes(home)) {
    issues.push({ variable: "REGIONS", message: `must include OTC_REGION (${home}), the region of a registration that names none` });
  }
  const out = new Map<string, Endpoints>();
  for (const r of served) {
    const builtIn = builtInEndpoints(r);
    const apig = apigMap.get(r) ?? (r === home ? apigHome : null) ?? builtIn.apig;
    const iam = iamMap.get(r) ?? (r === home ? iamHome : null) ?? builtIn.iam;
    out.set(r, { apig, iam: iam.replace(/\/v3$/, "") });
  }
  return out;
}

/**
 * The cursor MAC key: `CURSOR_SECRET` when set, else derived from what
 * identifies the deployment, so every container of it agrees without a new
 * secret to manage. The cursor names a position in the caller's own
 * partition only, which the MAC binds to the tenant.
 */
function cursorKeyOf(secret: string | null, service: string, table: string, keys: ApiKeyHash[]): Buffer {
  const h = createHash("sha256").update("apig-taskwatch cursor v1\n");
  if (secret !== null) return h.update(secret).digest();
  h.update(`${service}\n${table}\n`);
  for (const k of keys) h.update(`${k.tenant}:`).update(k.hash);
  return h.digest();
}
