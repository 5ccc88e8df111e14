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
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { startApigSimulator } from "../apig-simulator";
import { ensureTable } from "../../table";
import { startDynalite } from "./dynalite-server";
import { createLambdaHttpServer } from "./http-adapter";

const env = process.env;

// The AWS SDK warns on Node 20 about releases after January 2027; the lockfile
// pins this SDK, so the warning only adds noise to a newcomer's first start.
process.removeAllListeners("warning");
process.on("warning", (w) => {
  if (!`${w.name} ${w.message}`.includes("NodeVersionSupportWarning")) console.error(`${w.name}: ${w.message}`);
});
if (existsSync(".env")) process.loadEnvFile(".env");

async function main(): Promise<void> {
  const dataDir = resolve(env.DATA_DIR || ".data");
  mkdirSync(dataDir, { recursive: true });
  const notes: string[] = [];

  // A stable dev key per data directory, so a restart does not lock you out.
  let devKey: string | null = null;
  if (!env.API_KEYS) {
    const keyFile = join(dataDir, "dev-api-key");
    devKey = existsSync(keyFile) ? readFileSync(keyFile, "utf8").trim() : `dev_${randomBytes(24).toString("base64url")}`;
    writeFileSync(keyFile, devKey + "\n", { mode: 0o600 });
    env.API_KEYS = `dev:${createHash("sha256").update(devKey).digest("hex")}`;
  }

  const otcKeys = ["OTC_CREDENTIALS", "OTC_ACCESS_KEY", "OTC_SECRET_KEY", "OTC_USERNAME", "OTC_PASSWORD", "OTC_DOMAIN_NAME", "OTC_AUTH_TOKEN"];
  const simulated = !otcKeys.some((k) => env[k]);
  const simulator = simulated
    ? await startApigSimulator({
        host: "127.0.0.1",
        port: Number(env.SIMULATOR_PORT ?? 0),
        autoTasks: true,
        auth: { tokens: [(env.OTC_AUTH_TOKEN = `sim_${randomBytes(16).toString("hex")}`)] },
      })
    : null;
  if (simulator) {
    env.APIG_ENDPOINT = simulator.url;
    notes.push(`APIG simulator: ${simulator.url} (no OTC credentials set; any task id you register runs as a demo import)`);
  }

  const dynamo = await startDynalite({ path: join(dataDir, "dynamodb") });
  env.DYNAMODB_ENDPOINT = dynamo.endpoint;
  env.TABLE_NAME ||= "apig-taskwatch";
  const ddb = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: env.AWS_REGION || "eu-central-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  await ensureTable(ddb, env.TABLE_NAME);
  ddb.destroy();

  // Imported only now: the handlers read their configuration from the
  // environment this function has just completed, as Lambda's would.
  const { loadConfig } = await import("../../../lib/platform/config");
  const { pollerTiming } = await import("../../../lib/platform/timing");
  const config = loadConfig(env);
  const api = await import("../../../functions/api");
  const poller = await import("../../../functions/poller");

  const server = createLambdaHttpServer(api.handler);
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(config.port, env.HOST || "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const apiUrl = `http://${env.HOST || "127.0.0.1"}:${port}`;

  // The deployed schedule: one poller invocation per POLL_INTERVAL_S, each
  // polling its watches on their own cadence until shortly before the next,
  // with the Lambda timeout the deployed function has.
  const { lambdaTimeoutS } = pollerTiming(config);
  let running: Promise<unknown> | null = null;
  const tick = () => {
    if (running) return; // never overlap locally; correctness would survive it, logs would not
    const started = Date.now();
    running = poller
      .handler({}, { getRemainingTimeInMillis: () => lambdaTimeoutS * 1000 - (Date.now() - started) })
      .catch((err: unknown) => console.error(JSON.stringify({ level: "error", event: "tick_failed", error: String(err) })))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, config.pollIntervalS * 1000);
  tick();

  const lines = [
    "apig-taskwatch is running",
    `  HTTP API:   ${apiUrl}   (try: curl ${apiUrl}/health)`,
    devKey ? `  API key:    ${devKey}   (tenant "dev"; set API_KEYS to use your own)` : "  API keys:   from API_KEYS",
    `  Data:       ${join(dataDir, "dynamodb")} (kept across restarts)`,
    `  Poller:     one invocation every ${config.pollIntervalS} s, each polling young tasks every few seconds`,
    simulator ? `  ${notes[0]}` : `  APIG:       ${config.apigEndpoint} (auth: ${config.auth.method})`,
    "  Stop with Ctrl-C.",
  ];
  console.log(lines.join("\n"));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping`);
    clearInterval(timer);
    poller.stopPolling();
    await running;
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    await simulator?.close();
    await dynamo.close();
    console.log("stopped cleanly");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  // Configuration errors name the variable; nothing here prints values.
  console.error(`apig-taskwatch failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
