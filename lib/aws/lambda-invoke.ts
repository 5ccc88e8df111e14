/**
 * Asynchronous invocation of a Lambda function (the poller starting its
 * fan-out workers): one SigV4-signed `POST .../invocations` with
 * `X-Amz-Invocation-Type: Event`, signed by the SDK's own signer. The Lambda
 * SDK client would add 71 KiB and a few milliseconds to every cold start of
 * the poller for this one call, which most deployments never make.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { errorText } from "../domain/error-text";
import { requestCapped } from "../net/http-request";
import type { Dispatcher } from "../net/undici";

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === "string" ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

/** SHA-256 and HMAC-SHA256 in the shape the signer takes, over node:crypto. */
class Sha256 {
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

export interface LambdaInvokeOptions {
  functionName: string;
  region: string;
  /** The function's own credentials (in Lambda: the role's, from the environment). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  dispatcher: Dispatcher;
  /** Default {@link lambdaEndpoint} of `region` with no configured endpoint. */
  endpoint?: string;
  timeoutMs?: number;
}

/**
 * DNS suffix of the partition a region belongs to (the SDK's partition table,
 * for the partitions Lambda runs in): China, the ISO regions, then the rest.
 */
export function dnsSuffixOf(region: string): string {
  if (region.startsWith("cn-")) return "amazonaws.com.cn";
  if (region.startsWith("us-isob-")) return "sc2s.sgov.gov";
  if (region.startsWith("us-isof-")) return "csp.hci.ic.gov";
  if (region.startsWith("us-iso-")) return "c2s.ic.gov";
  if (region.startsWith("eu-isoe-")) return "cloud.adc-e.uk";
  return "amazonaws.com";
}

/**
 * The Lambda endpoint the SDK clients would use: `AWS_ENDPOINT_URL_LAMBDA`,
 * then `AWS_ENDPOINT_URL` (the SDK's service-specific endpoint settings),
 * else `https://lambda.{region}.{partition's DNS suffix}`.
 */
export function lambdaEndpoint(env: NodeJS.ProcessEnv, region: string): string {
  const configured = env.AWS_ENDPOINT_URL_LAMBDA?.trim() || env.AWS_ENDPOINT_URL?.trim();
  return configured || `https://lambda.${region}.${dnsSuffixOf(region)}`;
}

/** The function's credentials and region as Lambda puts them in its environment, or null outside Lambda. */
export function lambdaEnvCredentials(
  env: NodeJS.ProcessEnv,
): { region: string; endpoint: string; credentials: LambdaInvokeOptions["credentials"] } | null {
  const { AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = env;
  if (!AWS_REGION || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) return null;
  return {
    region: AWS_REGION,
    endpoint: lambdaEndpoint(env, AWS_REGION),
    credentials: { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY, ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}) },
  };
}

/** A function that starts one asynchronous invocation with `payload`; throws when Lambda does not accept it (202). */
export function lambdaInvoker(o: LambdaInvokeOptions): (payload: unknown) => Promise<void> {
  const endpoint = new URL(o.endpoint ?? lambdaEndpoint({}, o.region));
  const signer = new SignatureV4({ service: "lambda", region: o.region, credentials: o.credentials, sha256: Sha256 });
  return async (payload) => {
    const body = JSON.stringify(payload);
    const path = `/2015-03-31/functions/${encodeURIComponent(o.functionName)}/invocations`;
    const signed = await signer.sign({
      method: "POST",
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
      path,
      query: {},
      headers: { host: endpoint.host, "content-type": "application/json", "x-amz-invocation-type": "Event" },
      body,
    });
    let status: number;
    let answer = "";
    try {
      const res = await requestCapped(new URL(path, endpoint), {
        method: "POST",
        headers: signed.headers,
        body,
        dispatcher: o.dispatcher,
        timeoutMs: o.timeoutMs ?? 10_000,
        maxBodyBytes: 2048,
        overflow: "truncate",
      });
      status = res.status;
      answer = res.body;
    } catch (err) {
      throw new Error(`Lambda invoke of ${o.functionName} failed: ${errorText(err)}`);
    }
    if (status !== 202) throw new Error(`Lambda invoke of ${o.functionName} answered ${status}: ${answer.slice(0, 200)}`);
  };
}
