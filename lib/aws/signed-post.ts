/**
 * One SigV4-signed JSON POST to an AWS API (Lambda's Invoke, EventBridge's
 * PutEvents), with `@smithy/signature-v4` and node:crypto instead of a whole
 * SDK client per service; the answer is read capped.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { type CappedResponse, requestCapped } from "../net/http-request";
import type { Dispatcher } from "../net/undici";

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === "string" ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** SHA-256 and HMAC-SHA256 in the shape the signer takes, over node:crypto (shared by every SigV4 call). */
export class Sha256 {
  private h: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.h = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(this.secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    this.h = this.fresh();
  }
}


/** The credentials a signer takes (the role's, from Lambda's environment). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A signer for one service in one region; keep one per client (it caches signing keys). */
export function sigV4Signer(service: string, region: string, credentials: AwsCredentials): SignatureV4 {
  return new SignatureV4({ service, region, credentials, sha256: Sha256 });
}

/** Sign and send `body` to `path` at `endpoint`; network errors and timeouts are thrown. */
export async function signedPost(
  signer: SignatureV4,
  endpoint: URL,
  path: string,
  o: { headers: Record<string, string>; body: string; dispatcher: Dispatcher; timeoutMs: number; maxBodyBytes: number },
): Promise<CappedResponse> {
  const signed = await signer.sign({
    method: "POST",
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
    path,
    query: {},
    headers: { host: endpoint.host, ...o.headers },
    body: o.body,
  });
  return requestCapped(new URL(path, endpoint), {
    method: "POST",
    headers: signed.headers,
    body: o.body,
    dispatcher: o.dispatcher,
    timeoutMs: o.timeoutMs,
    maxBodyBytes: o.maxBodyBytes,
    overflow: "truncate",
  });
}
