/**
 * EventBridge `PutEvents` of one entry: a SigV4-signed JSON 1.1 request,
 * signed by the SDK's own signer like `lambda-invoke.ts`. The EventBridge SDK
 * client would add its whole protocol stack to the poller's bundle for this
 * one call (measured in docs/configuration.md).
 */
import { busRegion } from "../domain/target";
import type { Dispatcher } from "../net/undici";
import { signedPost, sigV4Signer } from "./signed-post";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PutEventOptions {
  /** The caller's credentials (in Lambda: the role's, from the environment). */
  credentials: AwsCredentials;
  dispatcher: Dispatcher;
  /** `AWS_ENDPOINT_URL_EVENTBRIDGE`; default `https://events.{region of the bus}.amazonaws.com`. */
  endpoint?: string;
  timeoutMs: number;
}

/** One PutEvents entry. */
export interface EventEntry {
  EventBusName: string;
  Source: string;
  DetailType: string;
  /** JSON text. */
  Detail: string;
}

/**
 * What EventBridge answered: `status` is the HTTP status; `failed` is the
 * entry's own error when EventBridge took the call but refused the entry.
 */
export interface PutEventAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  failed: { code: string; message: string } | null;
}

/** Put one event on the bus named by `entry.EventBusName` (an ARN: it says the region). */
export async function putEvent(entry: EventEntry, o: PutEventOptions): Promise<PutEventAnswer> {
  const region = busRegion(entry.EventBusName);
  const endpoint = new URL(o.endpoint ?? `https://events.${region}.amazonaws.com`);
  const res = await signedPost(sigV4Signer("events", region, o.credentials), endpoint, endpoint.pathname || "/", {
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSEvents.PutEvents" },
    body: JSON.stringify({ Entries: [entry] }),
    dispatcher: o.dispatcher,
    timeoutMs: o.timeoutMs,
    maxBodyBytes: 4096,
  });
  let failed: PutEventAnswer["failed"] = null;
  if (res.status === 200) {
    try {
      const answer = JSON.parse(res.body) as { FailedEntryCount?: number; Entries?: Array<{ ErrorCode?: string; ErrorMessage?: string }> };
      const e = answer.Entries?.[0];
      if ((answer.FailedEntryCount ?? 0) > 0 || e?.ErrorCode) failed = { code: e?.ErrorCode ?? "failed", message: e?.ErrorMessage ?? "" };
    } catch {
      failed = { code: "bad_answer", message: "EventBridge answered 200 without JSON" };
    }
  }
  return { status: res.status, headers: res.headers, body: res.body, failed };
}
