/**
 * A stand-in for the EventBridge endpoint on 127.0.0.1 that checks each
 * request's SigV4 signature (computed by hand from the AWS specification, not
 * with the signer the service uses), and answers PutEvents like AWS.
 */
import { createHash, createHmac } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { type Receiver, useReceiver } from "./receiver";

export const TEST_CREDENTIALS = { accessKeyId: "AKIDTESTTASKWATCH", secretAccessKey: "test-secret-access-key-0123456789" };

/**
 * Whether a received request carries a valid SigV4 signature for `service`
 * in `region` by {@link TEST_CREDENTIALS}, over the body as received.
 */
export async function verifySigV4(hit: { path: string; headers: IncomingHttpHeaders; body: string }, service: string, region: string): Promise<boolean> {
  const auth = String(hit.headers.authorization ?? "");
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m || m[1] !== TEST_CREDENTIALS.accessKeyId || m[3] !== region || m[4] !== service) return false;
  const amzDate = String(hit.headers["x-amz-date"] ?? "");
  const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!d) return false;
  // The canonical request and the signing key computed here by hand, independently of the signer the service uses.
  const names = m[5]!.split(";");
  const canonicalHeaders = names.map((n) => `${n}:${String(hit.headers[n] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const [path, query = ""] = hit.path.split("?");
  const canonical = ["POST", path, query, canonicalHeaders, m[5], sha256hex(hit.body)].join("\n");
  const scope = `${m[2]}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonical)].join("\n");
  let key: Buffer = hmac(`AWS4${TEST_CREDENTIALS.secretAccessKey}`, m[2]!);
  for (const part of [region, service, "aws4_request"]) key = hmac(key, part);
  return names.includes("host") && names.includes("x-amz-date") && hmac(key, toSign).toString("hex") === m[6];
}

const sha256hex = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** A receiver answering PutEvents with one accepted entry. */
export async function useEventBridge(): Promise<Receiver> {
  const r = await useReceiver();
  r.fallback = { status: 200, headers: { "content-type": "application/x-amz-json-1.1" }, body: JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: "11111111-2222-3333-4444-555555555555" }] }) };
  return r;
}
