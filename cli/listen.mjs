// @ts-check
/**
 * `taskwatch listen`: a local receiver for trying notifications without a
 * Slack workspace or a public endpoint. It verifies each signed webhook
 * (Standard Webhooks: HMAC-SHA256 over `id.timestamp.body` with the secret)
 * and prints one line per delivery; a Slack-shaped POST is printed as text.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { UsageError } from "./args.mjs";

/** Signatures older or newer than this are refused, as Standard Webhooks advises. */
const TOLERANCE_S = 5 * 60;

/**
 * Whether `headers` carry a valid signature of `body` under `secret`.
 * @param {string} secret `whsec_` + base64
 * @param {Record<string, string | string[] | undefined>} headers
 * @param {string} body
 * @param {number} nowS
 * @returns {{ ok: true } | { ok: false, why: string }}
 */
export function verifySignature(secret, headers, body, nowS) {
  const id = String(headers["webhook-id"] ?? "");
  const ts = String(headers["webhook-timestamp"] ?? "");
  const sigs = String(headers["webhook-signature"] ?? "");
  if (!id || !ts || !sigs) return { ok: false, why: "no webhook-id / webhook-timestamp / webhook-signature headers" };
  if (!/^\d+$/.test(ts) || Math.abs(nowS - Number(ts)) > TOLERANCE_S) return { ok: false, why: `timestamp ${ts} is more than 5 minutes off` };
  const expected = createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64")).update(`${id}.${ts}.${body}`).digest();
  for (const s of sigs.split(" ")) {
    const [v, mac] = s.split(",");
    if (v !== "v1" || !mac) continue;
    const got = Buffer.from(mac, "base64");
    if (got.length === expected.length && timingSafeEqual(got, expected)) return { ok: true };
  }
  return { ok: false, why: "signature does not match the secret" };
}

/** One line for a delivery's JSON body. @param {any} j */
function describe(j) {
  if (j && typeof j === "object" && typeof j.type === "string" && j.data) {
    const d = j.data;
    return `${j.type}  ${d.task_id ?? "?"}  ${d.task_type ?? "task"}  ${d.outcome ?? d.status ?? ""}`;
  }
  if (j && typeof j === "object" && typeof j.text === "string") return `slack message: ${j.text.split("\n")[0]}`;
  return JSON.stringify(j).slice(0, 200);
}

/**
 * Run the receiver until interrupted.
 * @param {{ port: number, host: string, secret: string | undefined, json: boolean }} o
 * @returns {Promise<number>} the exit code (on SIGINT / SIGTERM)
 */
export async function listen(o) {
  const secret = o.secret ?? `whsec_${randomBytes(24).toString("base64")}`;
  if (!/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw new UsageError("--secret must be whsec_ followed by base64");
  const server = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const signed = req.headers["webhook-signature"] !== undefined;
      const check = signed ? verifySignature(secret, req.headers, body, Math.floor(Date.now() / 1000)) : null;
      /** @type {any} */
      let parsed;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = body;
      }
      const at = new Date().toISOString();
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ at, path: req.url, signed, verified: check?.ok ?? null, body: parsed })}\n`);
      } else {
        const mark = check === null ? "unsigned" : check.ok ? "verified" : `REFUSED (${check.why})`;
        process.stdout.write(`${at}  ${req.method} ${req.url}  ${mark}  ${describe(parsed)}\n`);
      }
      res.writeHead(check && !check.ok ? 401 : 204).end();
    });
  });
  await new Promise((ok, fail) => {
    server.once("error", (err) => fail(new UsageError(`cannot listen on ${o.host}:${o.port}: ${"code" in err ? err.code : err.message}`)));
    server.listen(o.port, o.host, () => ok(undefined));
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  const url = `http://${o.host}:${port}/`;
  process.stderr.write(
    [
      `taskwatch: listening on ${url} (Ctrl-C to stop)`,
      `  secret: ${secret}`,
      `  register with: --webhook ${url} --secret ${secret}`,
      "  (the service must allow local targets: ALLOW_PRIVATE_TARGETS=true npm start)",
      "",
    ].join("\n"),
  );
  return new Promise((ok) => {
    const stop = () => server.close(() => ok(0));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
