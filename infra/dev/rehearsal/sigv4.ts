/**
 * SigV4 verification for the rehearsal's AWS stand-ins: recompute the
 * signature of a received request from the secret of the access key it
 * names, as AWS does, and compare. A request that is not signed, signed for
 * another service or region, stale, or signed with the wrong secret fails.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();
const sha256hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
/** RFC 3986 encoding, as the SDK's signer escapes path segments. */
const escape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export type SigV4Result = { ok: true; accessKeyId: string } | { ok: false; reason: string };

export function verifySigV4(
  req: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer },
  expect: { service: string; region: string; secretOf: (accessKeyId: string) => string | undefined; now?: number },
): SigV4Result {
  const auth = String(req.headers.authorization ?? "");
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, reason: "no SigV4 Authorization header" };
  const [, accessKeyId, day, region, service, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (service !== expect.service || region !== expect.region) return { ok: false, reason: `signed for ${service} in ${region}, not ${expect.service} in ${expect.region}` };
  const secret = expect.secretOf(accessKeyId);
  if (secret === undefined) return { ok: false, reason: `unknown access key ${accessKeyId}` };
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const at = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"));
  if (!amzDate.startsWith(day) || !Number.isFinite(at)) return { ok: false, reason: "x-amz-date missing or not the credential's day" };
  if (Math.abs((expect.now ?? Date.now()) - at) > 5 * 60_000) return { ok: false, reason: "signature expired (more than 5 minutes of skew)" };
  const url = new URL(req.url, "http://x");
  const path = url.pathname.split("/").map((s) => escape(decodeURIComponent(s))).join("/");
  const query = [...url.searchParams]
    .map(([k, v]) => [escape(k), escape(v)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const names = signedHeaders.split(";");
  if (!names.includes("host")) return { ok: false, reason: "host is not signed" };
  const headerLines = names.map((n) => `${n}:${String(req.headers[n] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const payload = typeof req.headers["x-amz-content-sha256"] === "string" ? req.headers["x-amz-content-sha256"] : sha256hex(req.body);
  if (payload !== "UNSIGNED-PAYLOAD" && payload !== sha256hex(req.body)) return { ok: false, reason: "body does not match x-amz-content-sha256" };
  const canonical = [req.method, path, query, headerLines, signedHeaders, payload].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), "aws4_request");
  const want = hmac(key, toSign);
  const got = Buffer.from(signature, "hex");
  return got.length === want.length && timingSafeEqual(got, want) ? { ok: true, accessKeyId } : { ok: false, reason: "signature does not match" };
}
