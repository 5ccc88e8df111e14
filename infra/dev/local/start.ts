/**
 * `npm start`: the whole service on one machine. The same Lambda handlers as
 * in AWS, behind a thin API Gateway v2 adapter; dynalite keeping data under
 * DATA_DIR; the poller handler every POLL_INTERVAL_S; and, with no OTC
 * credentials configured, the APIG simulator in place of a real gateway.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { startApigSimulator } from "../apig-simulator";
import { ensureTable } from "../../table";
import { type Config, loadConfig } from "../../../lib/platform/config";
import { pollerTiming } from "../../../lib/app/timing";
import { createPollerHandler } from "../../../lib/platform/poller-handler";
import { schedulePoller } from "./poller-schedule";
import { INDEX_BY_CREATED, INDEX_DUE } from "../../../lib/store/item-codec";
import { lockDataDir } from "./data-dir-lock";
import { localDynamoClient, startDynalite } from "./dynalite-server";
import { migrateLocalTable } from "./migrate-table";
import { repairIndexes } from "./repair-indexes";
import { createLambdaHttpServer } from "./http-adapter";
import { hideSdkNodeVersionWarning } from "../node-warnings";
import { authenticate } from "../../../lib/http/auth";
import { tenancyLines } from "./banner";

const env = process.env;

// Noise on a newcomer's first start (see node-warnings.ts).
hideSdkNodeVersionWarning();
if (existsSync(".env")) process.loadEnvFile(".env");

/**
 * The configuration as it will be once start-up has filled in what it
 * provides itself (dev key, simulator, dynalite), checked before anything is
 * created on disk or started.
 */
function preflight(simulated: boolean): Config {
  return loadConfig({
    ...env,
    API_KEYS: env.API_KEYS || `dev:${"0".repeat(64)}`,
    DYNAMODB_ENDPOINT: env.DYNAMODB_ENDPOINT || "http://127.0.0.1:1",
    ...(simulated ? { OTC_AUTH_TOKEN: "preflight" } : {}),
  });
}

/**
 * One request must never end the stack: an exception nothing caught (dynalite
 * throws inside its own setImmediate callbacks, out of any request's reach)
 * is logged and the process keeps serving; the request it belonged to is
 * answered 503 by the HTTP adapter's deadline. Lines are rate-limited so a
 * storm of them cannot flood the terminal.
 */
function surviveStrayErrors(): void {
  let window = 0;
  let inWindow = 0;
  const report = (event: string, err: unknown) => {
    const now = Date.now();
    if (now - window > 10_000) {
      if (inWindow > 20) console.error(JSON.stringify({ level: "error", event: "stray_errors_suppressed", count: inWindow - 20 }));
      window = now;
      inWindow = 0;
    }
    if (++inWindow > 20) return;
    const text = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : String(err).slice(0, 300);
    const where = err instanceof Error ? (err.stack ?? "").split("\n").slice(1, 3).map((l) => l.trim()).join(" < ") : "";
    console.error(JSON.stringify({ level: "error", event, error: text, where, note: "kept serving" }));
  };
  process.on("uncaughtException", (err) => report("uncaught_exception", err));
  process.on("unhandledRejection", (err) => report("unhandled_rejection", err));
}

async function main(): Promise<void> {
  const otcKeys = ["OTC_CREDENTIALS", "OTC_ACCESS_KEY", "OTC_SECRET_KEY", "OTC_USERNAME", "OTC_PASSWORD", "OTC_DOMAIN_NAME", "OTC_AUTH_TOKEN"];
  const simulated = !otcKeys.some((k) => env[k]);
  const planned = preflight(simulated);

  const dataDir = resolve(planned.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const unlock = lockDataDir(dataDir);
  process.on("exit", unlock);
  const notes: string[] = [];

  // A stable dev key per data directory, so a restart does not lock you out.
  let devKey: string | null = null;
  if (!env.API_KEYS) {
    const keyFile = join(dataDir, "dev-api-key");
    devKey = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : `dev_${randomBytes(24).toString("base64url")}`;
    writeFileSync(keyFile, devKey + "\n", { mode: 0o600 });
    env.API_KEYS = `dev:${createHash("sha256").update(devKey).digest("hex")}`;
  }

  const simulator = simulated
    ? await startApigSimulator({
        host: "127.0.0.1",
        port: Number(env.SIMULATOR_PORT ?? 0),
        autoTasks: true,
        auth: { tokens: [(env.OTC_AUTH_TOKEN = `sim_${randomBytes(16).toString("hex")}`)] },
      })
    : null;
  if (simulator) {
    // The simulator stands in for every served region's APIG and IAM.
    const all = [...planned.regions.keys()].map((r) => `${r}=${simulator.url}`).join(",");
    env.APIG_ENDPOINTS = all;
    env.IAM_ENDPOINTS = all;
    env.APIG_ENDPOINT = simulator.url;
    notes.push(`APIG simulator: ${simulator.url} (no OTC credentials set; any task id you register runs as a demo import)`);
  }

  const dynamo = await startDynalite({ path: join(dataDir, "dynamodb") });
  env.DYNAMODB_ENDPOINT = dynamo.endpoint;
  env.TABLE_NAME ||= "apig-taskwatch";
  const ddb = localDynamoClient(dynamo.endpoint, env.AWS_REGION || undefined);
  // A table from before the listing moved to a GSI is rebuilt with today's indexes.
  const migrated = await migrateLocalTable(ddb, env.TABLE_NAME, { journalPath: join(dataDir, "table-migration.journal") });
  await ensureTable(ddb, env.TABLE_NAME);
  // A kill -9 may have left index entries out of step with their items.
  const repaired = await repairIndexes(ddb, env.TABLE_NAME, {
    journalPath: join(dataDir, "index-repair.journal"),
    indexes: { due: INDEX_DUE, byCreated: INDEX_BY_CREATED },
  });
  ddb.destroy();

  // Imported only now: the handlers read their configuration from the
  // environment this function has just completed, as Lambda's would.
  const config = loadConfig(env);
  // The links notifications carry to large exports name this stack's own address.
  if (!env.PUBLIC_URL && config.port !== 0) env.PUBLIC_URL = `http://${env.HOST || "127.0.0.1"}:${config.port}`;
  const api = await import("../../../functions/api");
  const poller = await import("../../../functions/poller");

  // A large body is read only with a known key (unauthenticated uploads cannot fill memory).
  const authorized = (header: string | undefined) => {
    try {
      authenticate(config.apiKeys, header);
      return true;
    } catch {
      return false;
    }
  };
  const server = createLambdaHttpServer(api.handler, { authorized });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(config.port, env.HOST || "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const apiUrl = `http://${env.HOST || "127.0.0.1"}:${port}`;

  // The deployed schedule: one poller invocation per POLL_INTERVAL_S, each
  // polling its watches on their own cadence until the next has taken over,
  // with the Lambda timeout the deployed function has; an invocation that
  // starts while the last still runs gets another container, as in Lambda.
  const { lambdaTimeoutS } = pollerTiming(config);
  const polling = schedulePoller({
    first: poller.handler,
    more: () => createPollerHandler(env),
    intervalMs: config.pollIntervalS * 1000,
    lambdaTimeoutS,
    onError: (err) => console.error(JSON.stringify({ level: "error", event: "tick_failed", error: String(err) })),
  });

  const lines = [
    "apig-taskwatch is running",
    `  HTTP API:   ${apiUrl}   (try: curl ${apiUrl}/health)`,
    devKey ? `  API key:    ${devKey}   (tenant "dev"; set API_KEYS to use your own)` : "  API keys:   from API_KEYS",
    `  Data:       ${join(dataDir, "dynamodb")} (kept across restarts; ${repaired.items} watches${repaired.staleEntries > 0 ? `, ${repaired.staleEntries} index entries repaired` : ""}${migrated.action !== "none" ? "; table rebuilt with the indexes of infra/table.json" : ""})`,
    `  Poller:     one invocation every ${config.pollIntervalS} s, each polling young tasks every few seconds`,
    `  Regions:    ${[...config.regions.keys()].join(", ")}`,
    simulator ? `  ${notes[0]}` : `  APIG:       ${config.apigEndpoint} (auth: ${config.auth.method})`,
    ...tenancyLines(config),
    "  Stop with Ctrl-C.",
  ];
  console.log(lines.join("\n"));

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${reason}: stopping`);
    // Whatever hangs, the process ends within 10 s of the signal.
    setTimeout(() => {
      console.error("stop took too long; exiting");
      process.exit(1);
    }, 8_000).unref();
    clearInterval(orphanCheck);
    // The running invocations start nothing more; what is in flight finishes.
    const pollersStopped = polling.stop();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    await pollersStopped;
    await simulator?.close();
    await dynamo.close();
    unlock();
    console.log("stopped cleanly");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGHUP", () => void stop("SIGHUP"));
  // `npm start` puts npm and a shell above this process; when one of them is
  // killed without passing the signal on, this process is re-parented and
  // must not keep serving on its port.
  const parent = process.ppid;
  const orphanCheck = setInterval(() => {
    if (process.ppid !== parent) void stop("parent process gone");
  }, 500);
  orphanCheck.unref();
}

main().then(surviveStrayErrors, (err: unknown) => {
  // One line per problem, no stack trace: configuration errors name the variable, never its value.
  const message = err instanceof Error ? err.message : String(err);
  console.error(`apig-taskwatch failed to start: ${message}`);
  process.exit(1);
});
