// One Lambda "container" of the rehearsal: a Node process that loads the
// template's handler from the unzipped bundle and runs one invocation at a
// time, as Lambda's Node runtime does. Plain JavaScript run by plain `node`
// (no tsx, no loader), so the bundle runs exactly as it would in Lambda.
//
// Protocol (IPC with infra/dev/rehearsal/containers.ts):
//   parent -> { type: "invoke", id, event, deadline, requestId }
//   child  -> { type: "result", id, ok, value | error, initMs, durationMs, maxRssKb }
//   child  -> { type: "egress", host, port }   a connection beyond loopback, refused
// The parent enforces the timeout (SIGKILL at the deadline) and freezes the
// process between invocations (SIGSTOP / SIGCONT), as Lambda does.
import net from "node:net";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"]);

// Every TCP connection goes through Socket#connect (net.connect, tls.connect,
// undici): refuse and report any that leaves loopback, before DNS is asked.
const connect = net.Socket.prototype.connect;
/** @this {net.Socket} @param {any[]} args @returns {net.Socket} */
function guardedConnect(...args) {
  let o = args[0];
  if (Array.isArray(o)) o = o[0];
  if (typeof o !== "object" || o === null) o = { port: args[0], host: typeof args[1] === "string" ? args[1] : "localhost" };
  if (o.path === undefined) {
    const host = String(o.host ?? "localhost").replace(/^\[|\]$/g, "");
    if (!LOOPBACK.has(host) && !host.startsWith("127.")) {
      send({ type: "egress", host, port: Number(o.port) });
      const err = Object.assign(new Error(`rehearsal: connection to ${host}:${o.port} beyond loopback refused`), { code: "EREHEARSALEGRESS" });
      process.nextTick(() => this.destroy(err));
      return this;
    }
  }
  return /** @type {any} */ (connect).apply(this, args);
}
net.Socket.prototype.connect = /** @type {any} */ (guardedConnect);
/** @param {unknown} m */
const send = (m) => process.send?.(m);

const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerSpec = process.env._HANDLER ?? "";
const dot = handlerSpec.lastIndexOf(".");
const modulePath = handlerSpec.slice(0, dot);
const exportName = handlerSpec.slice(dot + 1);

/** The handler, loaded on the first invocation: the init phase of a cold start. @type {((event: unknown, context: unknown) => Promise<unknown>) | undefined} */
let handler;
let initMs = 0;
/** @returns {Promise<(event: unknown, context: unknown) => Promise<unknown>>} */
async function load() {
  const t0 = performance.now();
  const file = [".js", ".mjs", ".cjs"].map((ext) => join(root, modulePath + ext)).find((f) => existsSync(f));
  if (!file) throw new Error(`Runtime.ImportModuleError: no ${modulePath}.{js,mjs,cjs} in ${root}`);
  const mod = await import(pathToFileURL(file).href);
  const fn = mod[exportName] ?? mod.default?.[exportName];
  if (typeof fn !== "function") throw new Error(`Runtime.HandlerNotFound: ${handlerSpec} is undefined or not exported`);
  initMs = performance.now() - t0;
  return fn;
}

/** @param {any} e */
const errorOf = (e) => ({ errorType: e?.name ?? typeof e, errorMessage: e?.message ?? String(e) });

process.on("message", async (/** @type {any} */ m) => {
  if (m?.type !== "invoke") return;
  let init = 0;
  const t0 = performance.now();
  try {
    if (!handler) {
      handler = await load();
      init = initMs;
    }
    const h = handler;
    const context = {
      awsRequestId: m.requestId,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: m.functionArn,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, m.deadline - Date.now()),
    };
    const t1 = performance.now();
    const value = await h(m.event, context);
    const durationMs = performance.now() - t1;
    send({ type: "result", id: m.id, ok: true, value: value ?? null, initMs: init, durationMs, maxRssKb: process.resourceUsage().maxRSS });
  } catch (e) {
    send({ type: "result", id: m.id, ok: false, error: errorOf(e), initMs: init, durationMs: performance.now() - t0 - init, maxRssKb: process.resourceUsage().maxRSS });
  }
});
send({ type: "started" });
