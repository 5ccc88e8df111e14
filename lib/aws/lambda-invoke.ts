/**
 * Asynchronous invocation of a Lambda function (the poller starting its
 * fan-out workers): one SigV4-signed `POST .../invocations` with
 * `X-Amz-Invocation-Type: Event`, signed by the SDK's own signer, at the
 * endpoint the SDK would use (`AWS_ENDPOINT_URL_LAMBDA`, `AWS_ENDPOINT_URL`,
 * the region's partition), retried with backoff as the SDK would retry. The
 * Lambda SDK client would add 71 KiB and a few milliseconds to every cold
 * start of the poller for this one call, which most deployments never make.
 */
import { LambdaInvokeError } from "../domain/errors";
export { LambdaInvokeError };
import { errorText } from "../domain/error-text";
import type { Dispatcher } from "../net/undici";
import { type AwsCredentials, signedPost, sigV4Signer } from "./signed-post";

export interface LambdaInvokeOptions {
  functionName: string;
  region: string;
  /** The function's own credentials (in Lambda: the role's, from the environment). */
  credentials: AwsCredentials;
  dispatcher: Dispatcher;
  /** From {@link lambdaEndpoint}. */
  endpoint: string;
  /** One attempt's deadline; an asynchronous invoke is accepted in tens of milliseconds. */
  timeoutMs?: number;
}

/**
 * The DNS suffix of an AWS region's partition (the SDK's `partitions.json`):
 * `lambda.cn-north-1.amazonaws.com.cn`, not `.amazonaws.com`.
 */
const PARTITION_SUFFIXES: Array<[RegExp, string]> = [
  [/^cn-\w+-\d+$/, "amazonaws.com.cn"],
  [/^eusc-de-\w+-\d+$/, "amazonaws.eu"],
  [/^us-iso-\w+-\d+$/, "c2s.ic.gov"],
  [/^us-isob-\w+-\d+$/, "sc2s.sgov.gov"],
  [/^eu-isoe-\w+-\d+$/, "cloud.adc-e.uk"],
  [/^us-isof-\w+-\d+$/, "csp.hci.ic.gov"],
];

/**
 * Where Lambda's API is for `region`, by the SDKs' convention: the
 * service-specific `AWS_ENDPOINT_URL_LAMBDA`, then the global
 * `AWS_ENDPOINT_URL` (both ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`
 * is true), then `https://lambda.{region}.{partition DNS suffix}`.
 */
export function lambdaEndpoint(env: NodeJS.ProcessEnv, region: string): string {
  const configured = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === "true" ? undefined : env.AWS_ENDPOINT_URL_LAMBDA || env.AWS_ENDPOINT_URL;
  if (configured) return configured;
  const suffix = PARTITION_SUFFIXES.find(([re]) => re.test(region))?.[1] ?? "amazonaws.com";
  return `https://lambda.${region}.${suffix}`;
}

/** The function's credentials and region as Lambda puts them in its environment, or null outside Lambda. */
export function lambdaEnvCredentials(env: NodeJS.ProcessEnv): { region: string; credentials: LambdaInvokeOptions["credentials"] } | null {
  const { AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = env;
  if (!AWS_REGION || !AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) return null;
  return {
    region: AWS_REGION,
    credentials: { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY, ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}) },
  };
}

/** A function that starts one asynchronous invocation with `payload`; throws {@link LambdaInvokeError} when Lambda does not accept it (202). One attempt. */
export function lambdaInvoker(o: LambdaInvokeOptions): (payload: unknown) => Promise<void> {
  const endpoint = new URL(o.endpoint);
  const signer = sigV4Signer("lambda", o.region, o.credentials);
  return async (payload) => {
    const path = `/2015-03-31/functions/${encodeURIComponent(o.functionName)}/invocations`;
    let status: number;
    let answer = "";
    try {
      const res = await signedPost(signer, endpoint, path, {
        headers: { "content-type": "application/json", "x-amz-invocation-type": "Event" },
        body: JSON.stringify(payload),
        dispatcher: o.dispatcher,
        timeoutMs: o.timeoutMs ?? 3_000,
        maxBodyBytes: 2048,
      });
      status = res.status;
      answer = res.body;
    } catch (err) {
      throw new LambdaInvokeError(`Lambda invoke of ${o.functionName} failed: ${errorText(err)}`, null, { cause: err });
    }
    if (status !== 202) throw new LambdaInvokeError(`Lambda invoke of ${o.functionName} answered ${status}: ${answer.slice(0, 200)}`, status);
  };
}

export interface InvokeRetryOptions {
  /** Tries after the first (PRODUCT.md: retried 3 times; the SDKs' standard mode makes 3 attempts in all). */
  retries: number;
  /** First backoff ceiling; doubled each retry up to `capMs`. */
  baseMs: number;
  capMs: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const DEFAULT_INVOKE_RETRY = { retries: 3, baseMs: 100, capMs: 1_000 } as const;

/**
 * `invoke` retried on what may pass (429, 5xx, no answer) with "full jitter"
 * backoff: before retry n a random wait in [0, min(cap, base x 2^(n-1))).
 * Anything else (403 not allowed, 404 no such function) fails at once.
 * @returns the attempts made; throws the last error after the last retry
 */
export function withInvokeRetry(invoke: (payload: unknown) => Promise<void>, o: InvokeRetryOptions): (payload: unknown) => Promise<number> {
  return async (payload) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await invoke(payload);
        return attempt;
      } catch (err) {
        const retryable = err instanceof LambdaInvokeError ? err.retryable : true;
        if (!retryable || attempt > o.retries) throw err;
        await o.sleep(Math.floor(o.random() * Math.min(o.capMs, o.baseMs * 2 ** (attempt - 1))));
      }
    }
  };
}
