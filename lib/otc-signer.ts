/**
 * OTC AK/SK request signing (`SDK-HMAC-SHA256`), as the APIG "Calling APIs"
 * guide and PRODUCT.md describe it, and its verification (for the simulator).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const ALGORITHM = "SDK-HMAC-SHA256";

export interface SignableRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

const sha256Hex = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** RFC 3986 escaping: everything but unreserved characters. */
function escape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `YYYYMMDDTHHMMSSZ`, UTC. */
export function formatSdkDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function parseSdkDate(s: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return null;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function canonicalUri(url: URL): string {
  const segments = url.pathname.split("/").map((seg) => {
    let raw = seg;
    try {
      raw = decodeURIComponent(seg);
    } catch {
      // keep the segment as sent
    }
    return escape(raw);
  });
  const path = segments.join("/");
  return path.endsWith("/") ? path : `${path}/`;
}

function canonicalQuery(url: URL): string {
  const pairs = [...url.searchParams].map(([k, v]) => [escape(k), escape(v)] as const);
  pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

function lowerHeaders(h: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(h)) out.set(k.toLowerCase(), v.trim());
  return out;
}

/**
 * The canonical request: method, canonical URI (always ending in `/`),
 * canonical query, canonical headers, signed header names, hex SHA-256 body.
 */
export function canonicalRequest(req: SignableRequest, signedHeaders: string[]): string {
  const headers = lowerHeaders(req.headers);
  const names = [...signedHeaders].map((n) => n.toLowerCase()).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers.get(n) ?? ""}\n`).join("");
  return [
    req.method.toUpperCase(),
    canonicalUri(req.url),
    canonicalQuery(req.url),
    canonicalHeaders,
    names.join(";"),
    sha256Hex(req.body ?? ""),
  ].join("\n");
}

/** `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256 of the canonical request>`. */
export function stringToSign(canonical: string, sdkDate: string): string {
  return `${ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

function signature(toSign: string, secretKey: string): string {
  return createHmac("sha256", secretKey).update(toSign).digest("hex");
}

/**
 * Headers to send for a signed request: the given ones plus `X-Sdk-Date` and
 * `Authorization`. Every returned header but Authorization is signed, so what
 * is signed is exactly what is sent.
 */
export function signRequest(
  req: SignableRequest,
  creds: { accessKey: string; secretKey: string },
  now: Date,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.toLowerCase() !== "authorization" && k.toLowerCase() !== "x-sdk-date") headers[k] = v;
  }
  if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) headers.host = req.url.host;
  headers["X-Sdk-Date"] = formatSdkDate(now);
  const signed = Object.keys(headers).map((k) => k.toLowerCase()).sort();
  const canonical = canonicalRequest({ ...req, headers }, signed);
  const sig = signature(stringToSign(canonical, headers["X-Sdk-Date"]), creds.secretKey);
  return {
    ...headers,
    Authorization: `${ALGORITHM} Access=${creds.accessKey}, SignedHeaders=${signed.join(";")}, Signature=${sig}`,
  };
}

/**
 * Check a received request's signature (used by the APIG simulator).
 * @param lookupSecret the SK of an AK, or undefined for an unknown AK
 */
export function verifySignature(
  req: SignableRequest,
  lookupSecret: (accessKey: string) => string | undefined,
  now: Date,
  maxSkewMs = 15 * 60_000,
): { ok: true; accessKey: string } | { ok: false; reason: string } {
  const headers = lowerHeaders(req.headers);
  const auth = headers.get("authorization") ?? "";
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, reason: "missing or malformed Authorization" };
  const [, accessKey, signedList, sig] = m as unknown as [string, string, string, string];
  const secret = lookupSecret(accessKey);
  if (secret === undefined) return { ok: false, reason: "unknown access key" };
  const date = headers.get("x-sdk-date");
  const at = date === undefined ? null : parseSdkDate(date);
  if (at === null) return { ok: false, reason: "missing or malformed X-Sdk-Date" };
  if (Math.abs(now.getTime() - at) > maxSkewMs) return { ok: false, reason: "X-Sdk-Date too far from now" };
  const signed = signedList.split(";");
  if (!signed.includes("x-sdk-date") || !signed.includes("host")) return { ok: false, reason: "host and x-sdk-date must be signed" };
  const expected = signature(stringToSign(canonicalRequest(req, signed), date!), secret);
  const ok = timingSafeEqual(Buffer.from(expected), Buffer.from(sig));
  return ok ? { ok: true, accessKey } : { ok: false, reason: "signature mismatch" };
}
