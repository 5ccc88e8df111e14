/**
 * Setup shared by the Lambda handlers: telemetry, secrets (from SSM when
 * SSM_PREFIX is set), configuration and clients. Built once per container,
 * retried on the next invocation if it failed, and rebuilt when the secrets
 * change: they are read again after SECRETS_TTL_S, and at once when OTC
 * refuses the credentials in use (a rotation), so nothing needs a redeploy.
 */
import { createHash } from "node:crypto";
import { SSMClient } from "@aws-sdk/client-ssm";
import { type Config, type Env, loadConfig, parseLogLevel } from "./config";
import { createLogger, type LambdaLogger } from "../aws/log";
import { createMetrics, type FlushableMetrics } from "../aws/metrics";
import { authFor, rotatingAuth } from "../otc/auth";
import type { AuthProvider } from "../otc/apig-client";
import { buildDeps, dynamoClient, type ServiceDeps } from "./runtime";
import { SECRET_VARIABLES, type SsmLike, withSsmSecrets } from "../aws/ssm-env";
import { Agent, type Dispatcher } from "../net/undici";
import { createGuardedAgent } from "../notify/ssrf-guard";
import { errorText } from "../domain/error-text";

export type Boot = { ok: true; deps: ServiceDeps; config: Config } | { ok: false; error: Error };

/** The logger and metrics of one process; handlers add the invocation context and flush. */
export interface Telemetry {
  log: LambdaLogger;
  metrics: FlushableMetrics;
}

/**
 * Telemetry from the plain environment (never from SSM): `SERVICE_NAME`,
 * `LOG_LEVEL`. Metrics are written only in Lambda, where CloudWatch reads them;
 * locally they would only be noise between the log lines.
 */
export function telemetryFrom(env: Env = process.env): Telemetry {
  const serviceName = env.SERVICE_NAME?.trim() || "apig-taskwatch";
  // An invalid LOG_LEVEL is reported by the configuration; until then, INFO.
  const log = createLogger({ serviceName, logLevel: parseLogLevel(env.LOG_LEVEL) ?? "INFO" });
  const inLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
  return { log, metrics: createMetrics({ serviceName, log, ...(inLambda ? {} : { sink: () => {} }) }) };
}

/** Seams of {@link lazyDeps} for tests. */
export interface LazyDepsOptions {
  telemetry?: Telemetry;
  /** SSM client for one read; default a fresh SDK client, destroyed after the read. */
  ssm?: () => SsmLike & { destroy?: () => void };
  /** Epoch milliseconds. */
  now?: () => number;
  /** Forced re-reads (after OTC refused the credentials) come at most this often. Default 30 s. */
  minForcedReadIntervalMs?: number;
}

interface Built {
  fingerprint: string;
  readAt: number;
  config: Config;
  deps: ServiceDeps;
  /** The OTC authentication of each credential set in each served region, by `set\nregion` (IAM tokens are per set, project and region). */
  auth: Map<string, AuthProvider>;
}

/** A loader of the process's dependencies from `process.env` (and SSM), re-reading secrets as described above. */
export function lazyDeps(env: NodeJS.ProcessEnv = process.env, opts: LazyDepsOptions = {}): () => Promise<Boot> {
  const telemetry = opts.telemetry ?? telemetryFrom(env);
  const now = opts.now ?? Date.now;
  const minForcedMs = opts.minForcedReadIntervalMs ?? 30_000;
  const newSsm = opts.ssm ?? (() => new SSMClient({ maxAttempts: 3 }));
  const prefix = env.SSM_PREFIX?.trim();
  let built: Built | undefined;
  let reading: Promise<boolean> | undefined;
  let lastForced = Number.NEGATIVE_INFINITY;
  // Created once: connection pools outlive a rotation (none of them depends on a secret).
  let shared: { apig: Dispatcher; notify: Dispatcher; db: ReturnType<typeof dynamoClient> } | undefined;

  const readSecrets = async (): Promise<Env> => {
    if (!prefix) return env;
    const ssm = newSsm();
    try {
      return await withSsmSecrets(env, ssm, prefix);
    } finally {
      ssm.destroy?.();
    }
  };

  // Credentials refused: read the secrets again at once (at most every minForcedMs).
  const refresh = async () => {
    if (now() - lastForced < minForcedMs) return false;
    lastForced = now();
    const changed = await reload();
    if (changed) telemetry.log.info("secrets_reloaded", { reason: "credentials_refused" });
    return changed;
  };
  // Every request of a (set, region) goes through its one provider; it asks the current build.
  const rotating = new Map<string, AuthProvider>();
  const regionAuth = (set: string, region: string) => {
    const key = `${set}\n${region}`;
    let a = rotating.get(key);
    // A set dropped by a re-read: the provider it had serves what is still in flight.
    let last: AuthProvider | undefined;
    const current = () => (last = built!.auth.get(key) ?? last!);
    if (!a) rotating.set(key, (a = rotatingAuth(current, refresh)));
    return a;
  };

  /** Read the secrets; rebuild when they changed. True when the build changed. Throws only without a previous build. */
  const reload = (): Promise<boolean> => {
    reading ??= (async () => {
      try {
        const full = await readSecrets();
        const fingerprint = fingerprintOf(full);
        if (built && built.fingerprint === fingerprint) {
          built.readAt = now();
          return false;
        }
        const config = loadConfig(full);
        shared ??= {
          // As many connections as parallel queries, so a poll never queues for a socket.
          apig: new Agent({ keepAliveTimeout: 30_000, connections: Math.max(16, config.pollConcurrency), connect: { timeout: 5_000 } }),
          notify: createGuardedAgent({ allowPrivate: config.allowPrivateTargets }),
          db: dynamoClient(config),
        };
        const deps = buildDeps(config, {
          log: telemetry.log,
          metrics: telemetry.metrics,
          regionAuth,
          apigDispatcher: shared.apig,
          notifyDispatcher: shared.notify,
          db: shared.db,
        });
        // A set whose credentials did not change (only API keys rotated, or
        // another set) keeps its providers and their cached IAM tokens.
        const apig = shared.apig;
        const otc = new Map<string, AuthProvider>();
        for (const [set, credentials] of config.credentials) {
          const same = built !== undefined && JSON.stringify(built.config.credentials.get(set)) === JSON.stringify(credentials);
          for (const [region, endpoints] of config.regions) {
            const key = `${set}\n${region}`;
            otc.set(key, (same ? built!.auth.get(key) : undefined) ?? authFor(credentials, apig, endpoints.iam));
          }
        }
        built = { fingerprint, readAt: now(), config, deps, auth: otc };
        return true;
      } catch (err) {
        // Config errors name variables, SDK errors name parameters: no values.
        telemetry.log.error(built ? "secrets_reload_failed" : "config_error", { error: errorText(err).slice(0, 500) });
        if (!built) throw err;
        // A bad rotated value or an SSM hiccup: keep serving with what worked, try again after the TTL.
        built.readAt = now();
        return false;
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };

  return async () => {
    try {
      if (!built || now() - built.readAt >= built.config.secretsTtlS * 1000) await reload();
      return { ok: true, config: built!.config, deps: built!.deps };
    } catch (err) {
      // Not cached: the next invocation tries again.
      return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
    }
  };
}

/** A digest of the secret values, to tell whether a re-read changed anything (without keeping a second copy). */
function fingerprintOf(env: Env): string {
  const h = createHash("sha256");
  for (const name of SECRET_VARIABLES) h.update(`${name}\0${env[name] ?? ""}\0`);
  return h.digest("hex");
}
