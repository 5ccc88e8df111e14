/**
 * The configuration of the PagerDuty and EventBridge channels:
 * `EVENTBRIDGE_BUS_ARNS`, `PAGERDUTY_EVENTS_URL`, `AWS_ENDPOINT_URL_EVENTBRIDGE`
 * and the AWS credentials events are put with; and `PUBLIC_URL`, the API's
 * address the links of every channel name. Problems are added to the
 * caller's list, one per variable, never echoing a value that may be secret.
 */
import { EventBusArn } from "../domain/target";
import type { AwsCredentials } from "../aws/eventbridge-put";
import type { Env } from "../aws/ssm-env";

export interface ChannelConfig {
  /** The buses an `eventbridge` target may name; the poller's role may put events on these alone. */
  eventBusArns: string[];
  /** Replaces PagerDuty's regional Events API endpoint (tests, the local stack). */
  pagerdutyEventsUrl: string | null;
  /** `AWS_ENDPOINT_URL_EVENTBRIDGE` (or `AWS_ENDPOINT_URL`), as the AWS SDKs read it. */
  eventBridgeEndpoint: string | null;
  /** The function's credentials (in Lambda, its role's, from the environment); null outside AWS without them. */
  awsCredentials: AwsCredentials | null;
  /** `PUBLIC_URL`: the HTTP API's base URL, for links to large exports (`GET /tasks/{id}/export`); null: the path alone. */
  publicUrl: string | null;
}

const opt = (v: string | undefined) => {
  const t = v?.trim();
  return t === undefined || t === "" ? undefined : t;
};

function httpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/** Read the channels' variables from `env`, adding each bad one to `issues`. */
export function loadChannelConfig(env: Env, issues: Array<{ variable: string; message: string }>): ChannelConfig {
  const eventBusArns: string[] = [];
  for (const arn of (opt(env.EVENTBRIDGE_BUS_ARNS) ?? "").split(",").map((p) => p.trim()).filter(Boolean)) {
    if (!EventBusArn.safeParse(arn).success) {
      issues.push({ variable: "EVENTBRIDGE_BUS_ARNS", message: `"${arn.slice(0, 80)}" is not an event bus ARN (arn:aws:events:region:account:event-bus/name)` });
    } else if (!eventBusArns.includes(arn)) eventBusArns.push(arn);
  }
  const url = (name: string): string | null => {
    const v = opt(env[name]);
    if (v === undefined) return null;
    if (!httpUrl(v)) {
      issues.push({ variable: name, message: "must be an http(s) URL" });
      return null;
    }
    return v;
  };
  const pagerdutyEventsUrl = url("PAGERDUTY_EVENTS_URL");
  const eventBridgeEndpoint = url("AWS_ENDPOINT_URL_EVENTBRIDGE") ?? url("AWS_ENDPOINT_URL");
  const accessKeyId = opt(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = opt(env.AWS_SECRET_ACCESS_KEY);
  const sessionToken = opt(env.AWS_SESSION_TOKEN);
  const awsCredentials =
    accessKeyId !== undefined && secretAccessKey !== undefined
      ? { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }
      : null;
  const publicUrl = url("PUBLIC_URL")?.replace(/\/+$/, "") ?? null;
  return { eventBusArns, pagerdutyEventsUrl, eventBridgeEndpoint, awsCredentials, publicUrl };
}
