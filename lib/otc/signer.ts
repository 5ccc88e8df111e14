/**
 * OTC AK/SK request signing (`SDK-HMAC-SHA256`), as the APIG "Calling APIs"
 * guide describes it, and its verification (for the simulator).
 */
import * as crypto from "node:crypto";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** The algorithm name, first line of the string to sign and prefix of `Authorization`. */
export const ALGORITHM = "SDK-HMAC-SHA256";

/** What signing needs of a request. `headers` holds what will be sent, `host` included. */
export interface SignableRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** AK/SK pair; the SK is used raw as the HMAC key. */
export interface AkSkCredentials {
  accessKey: string;
  secretKey: string;
}

/** Outcome of {@link verifySignature}; `reason` is for logs and never holds a secret. */
export type SignatureCheck = { ok: true; accessKey: string } | { ok: false; reason: string };

// `crypto.hash` (Node 20.12+, one shot, no Hash object) where there is one.
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: "hex") => string }).hash;
const sha256Hex = oneShot
  ? (data: string | Uint8Array) => oneShot("sha256", data, "hex")
  : (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");
/** The hex SHA-256 of no body (every GET). */
const EMPTY_SHA256 = sha256Hex("");
const bodyHash = (body: string | Uint8Array | undefined) => (body === undefined || body.length === 0 ? EMPTY_SHA256 : sha256Hex(body));
/** A path segment or query part that RFC 3986 escaping leaves as it is (and has no escape to decode). */
const UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;

/** RFC 3986 escaping: everything but the unreserved `A-Z a-z 0-9 - _ . ~`. */
function escape(s: string): string {
  // encodeURIComponent leaves !'()* alone; RFC 3986 (and the OTC signer) escape them.
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The last second formatted: a poller signs some 200 requests in each. */
let lastSecond = Number.NaN;
let lastFormatted = "";

/** `YYYYMMDDTHHMMSSZ`, UTC, no milliseconds. */
export function formatSdkDate(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== lastSecond) {
    lastFormatted = d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    lastSecond = second;
  }
  return lastFormatted;
}

function parseSdkDate(s: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(t) ? null : t;
}

function canonicalUri(url: URL): string {
  // URL keeps the path percent-encoded; decode each segment first so that a
  // segment is escaped exactly once whichever way the caller spelled it.
  const segments = url.pathname.split("/").map((seg) => {
    if (UNRESERVED.test(seg)) return seg;
    let raw = seg;
    try {
      raw = decodeURIComponent(seg);
    } catch {
      // A malformed escape is signed as sent; the server sees the same bytes.
    }
    return escape(raw);
  });
  const path = segments.join("/");
  return path.endsWith("/") ? path : `${path}/`;
}

function canonicalQuery(url: URL): string {
  if (url.search === "") return "";
  const pairs = [...url.searchParams].map(([k, v]) => [escape(k), escape(v)] as const);
  // Repeated keys are ordered by value so the result does not depend on the order sent.
  pairs.sort((a, b) => (a[0] === b[0] ? compare(a[1], b[1]) : compare(a[0], b[0])));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function lowerHeaders(h: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(h)) out.set(k.toLowerCase(), v.trim());
  return out;
}

/**
 * The canonical request: method, canonical URI (each segment escaped, always
 * ending in `/`), canonical query, canonical headers, signed header names and
 * the hex SHA-256 of the body, joined by newlines.
 * @param signedHeaders header names to sign, any case; a name absent from `req.headers` signs an empty value
 */
export function canonicalRequest(req: SignableRequest, signedHeaders: string[]): string {
  const headers = lowerHeaders(req.headers);
  const names = [...new Set(signedHeaders.map((n) => n.toLowerCase()))].sort();
  return canonicalOf(req, names, (n) => headers.get(n) ?? "");
}

/** The canonical request, given the signed names (lower case, unique, sorted) and each one's trimmed value. */
function canonicalOf(req: SignableRequest, names: string[], value: (name: string) => string): string {
  let canonicalHeaders = "";
  for (const n of names) canonicalHeaders += `${n}:${value(n)}\n`;
  return `${req.method.toUpperCase()}\n${canonicalUri(req.url)}\n${canonicalQuery(req.url)}\n${canonicalHeaders}\n${names.join(";")}\n${bodyHash(req.body)}`;
}

/** `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex SHA-256 of the canonical request>`. */
export function stringToSign(canonical: string, sdkDate: string): string {
  return `${ALGORITHM}\n${sdkDate}\n${sha256Hex(canonical)}`;
}

function signature(toSign: string, secretKey: string): string {
  return createHmac("sha256", secretKey).update(toSign).digest("hex");
}

/**
 * Headers to send for a signed request: the given ones plus `X-Sdk-Date` and
 * `Authorization`. Every returned header but Authorization is signed, so what
 * is signed is exactly what is sent (a header added later by the HTTP client,
 * such as content-length, is not signed and needs no signing).
 * `host` is taken from the URL when the caller did not pass it.
 */
export function signRequest(req: SignableRequest, creds: AkSkCredentials, now: Date): Record<string, string> {
  // One entry per header name whatever its case, so the signed list has no duplicates.
  const byLower = new Map<string, [string, string]>();
  for (const [k, v] of Object.entries(req.headers)) {
    const lower = k.toLowerCase();
    if (lower !== "authorization" && lower !== "x-sdk-date") byLower.set(lower, [k, v]);
  }
  if (!byLower.has("host")) byLower.set("host", ["host", req.url.host]);
  const sdkDate = formatSdkDate(now);
  byLower.set("x-sdk-date", ["X-Sdk-Date", sdkDate]);
  const headers = Object.fromEntries(byLower.values());
  const signed = [...byLower.keys()].sort();
  // What canonicalRequest(headers, signed) gives, without lowering and sorting the names again.
  const canonical = canonicalOf(req, signed, (n) => byLower.get(n)![1].trim());
  const sig = signature(stringToSign(canonical, sdkDate), creds.secretKey);
  return {
    ...headers,
    Authorization: `${ALGORITHM} Access=${creds.accessKey}, SignedHeaders=${signed.join(";")}, Signature=${sig}`,
  };
}

const AUTH_HEADER = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]{64})$/;

/**
 * Check a received request's signature (the APIG simulator uses it).
 * The signature is recomputed over the headers the request says it signed,
 * which must include `host` and `x-sdk-date`, so a replay cannot move the
 * request to another host or time.
 * @param req the request as received: its headers include `Authorization` and `X-Sdk-Date`
 * @param lookupSecret the SK of an AK, or undefined for an unknown AK
 * @param maxSkewMs how far `X-Sdk-Date` may be from `now` either way; default 15 minutes, as APIG allows
 */
export function verifySignature(
  req: SignableRequest,
  lookupSecret: (accessKey: string) => string | undefined,
  now: Date,
  maxSkewMs = 15 * 60_000,
): SignatureCheck {
  const headers = lowerHeaders(req.headers);
  const m = AUTH_HEADER.exec(headers.get("authorization") ?? "");
  const accessKey = m?.[1];
  const signedList = m?.[2];
  const sig = m?.[3]?.toLowerCase();
  if (accessKey === undefined || signedList === undefined || sig === undefined) {
    return { ok: false, reason: "missing or malformed Authorization" };
  }
  const secret = lookupSecret(accessKey);
  if (secret === undefined) return { ok: false, reason: "unknown access key" };
  const date = headers.get("x-sdk-date");
  const at = date === undefined ? null : parseSdkDate(date);
  if (date === undefined || at === null) return { ok: false, reason: "missing or malformed X-Sdk-Date" };
  if (Math.abs(now.getTime() - at) > maxSkewMs) return { ok: false, reason: "X-Sdk-Date too far from now" };
  const signed = signedList.split(";");
  if (!signed.includes("x-sdk-date") || !signed.includes("host")) {
    return { ok: false, reason: "host and x-sdk-date must be signed" };
  }
  // A signed header that was not received would otherwise be signed as empty.
  const missing = signed.find((n) => n === "" || !headers.has(n));
  if (missing !== undefined) return { ok: false, reason: `signed header ${missing || "(empty)"} not received` };
  const expected = signature(stringToSign(canonicalRequest(req, signed), date), secret);
  // Both are 64 hex characters, so timingSafeEqual gets equal lengths.
  return timingSafeEqual(Buffer.from(expected), Buffer.from(sig)) ? { ok: true, accessKey } : { ok: false, reason: "signature mismatch" };
}
