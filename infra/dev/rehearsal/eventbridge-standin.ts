/**
 * EventBridge as the functions see it in the rehearsal: `PutEvents`,
 * SigV4-verified, each entry checked as `events:PutEvents` on its bus ARN
 * against the caller's role (policy.ts, the packaged template's policies).
 * Like AWS, a refused entry is answered in the entry (`ErrorCode`
 * `AccessDeniedException`, `FailedEntryCount`) with HTTP 200, the other
 * entries of the call still taken; a request that is not signed, or not
 * one to ten entries, fails whole. Accepted entries are recorded with the
 * role that put them.
 */
import { randomUUID } from "node:crypto";
import type { AwsCall, Authorizer } from "./policy";
import type { Stack } from "./template";
import { awsJsonError, listenLoopback, readBody } from "./http-util";
import { verifySigV4 } from "./sigv4";

export interface EventBridgeStandInOptions {
  stack: Stack;
  auth: Authorizer;
  fnOfKey: (accessKeyId: string) => string;
  secretOf: (accessKeyId: string) => string | undefined;
}

/** One entry as EventBridge saw it, taken or refused. */
export interface PutEntry {
  /** The caller's role (logical id) and function. */
  role: string;
  fn: string;
  bus: string;
  source: string;
  detailType: string;
  detail: string;
  /** Set when taken. */
  eventId?: string;
  /** Set when refused. */
  errorCode?: string;
  /** The policy evaluation of this entry. */
  call?: AwsCall;
}

const JSON11 = "application/x-amz-json-1.1";

export async function startEventBridgeStandIn(o: EventBridgeStandInOptions) {
  const { partition, region, accountId } = o.stack;
  /** A bus name or ARN as EventBridge resolves it (no name: the default bus). */
  const busArn = (name: unknown) => {
    const n = typeof name === "string" && name !== "" ? name : "default";
    return n.startsWith("arn:") ? n : `arn:${partition}:events:${region}:${accountId}:event-bus/${n}`;
  };
  const events: PutEntry[] = [];
  const refused: PutEntry[] = [];
  const waiters: Array<() => void> = [];

  const server = await listenLoopback(async (req, res) => {
    const body = await readBody(req);
    const sig = verifySigV4({ method: req.method ?? "POST", url: req.url ?? "/", headers: req.headers, body }, { service: "events", region, secretOf: o.secretOf });
    if (!sig.ok) return awsJsonError(res, 400, "UnrecognizedClientException", `rehearsal: ${sig.reason}`, JSON11);
    const op = String(req.headers["x-amz-target"] ?? "").replace(/^AWSEvents\./, "");
    if (op !== "PutEvents") return awsJsonError(res, 400, "UnknownOperationException", `rehearsal: EventBridge ${op} is not modelled`, JSON11);
    let entries: Array<Record<string, unknown>>;
    try {
      entries = (JSON.parse(body.toString("utf8")) as { Entries?: Array<Record<string, unknown>> }).Entries ?? [];
    } catch {
      return awsJsonError(res, 400, "SerializationException", "not JSON", JSON11);
    }
    if (!Array.isArray(entries) || entries.length < 1 || entries.length > 10) {
      return awsJsonError(res, 400, "ValidationException", "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10", JSON11);
    }
    const fn = o.fnOfKey(sig.accessKeyId);
    const role = o.auth.roleOfKey(sig.accessKeyId);
    const out: Array<Record<string, string>> = [];
    for (const e of entries) {
      const bus = busArn(e.EventBusName);
      const seen: PutEntry = { role: role?.logicalId ?? "(unknown key)", fn, bus, source: String(e.Source ?? ""), detailType: String(e.DetailType ?? ""), detail: String(e.Detail ?? "") };
      const call = await o.auth.check({ accessKeyId: sig.accessKeyId, fn, action: "events:PutEvents", resource: bus });
      seen.call = call;
      let error: [string, string] | null = null;
      if (!call.allowed) {
        error = ["AccessDeniedException", `User: ${role?.arn ?? sig.accessKeyId} is not authorized to perform: events:PutEvents on resource: ${bus} because no identity-based policy allows the events:PutEvents action`];
      } else if (!seen.source || !seen.detailType) error = ["InvalidArgument", "Parameter(s) Source, DetailType must be specified."];
      else if (!isJsonObject(seen.detail)) error = ["MalformedDetail", "Detail is malformed."];
      if (error) {
        seen.errorCode = error[0];
        refused.push(seen);
        out.push({ ErrorCode: error[0], ErrorMessage: error[1] });
      } else {
        seen.eventId = randomUUID();
        events.push(seen);
        out.push({ EventId: seen.eventId });
      }
    }
    res.writeHead(200, { "content-type": JSON11, "x-amzn-requestid": randomUUID() });
    res.end(JSON.stringify({ FailedEntryCount: out.filter((x) => x.ErrorCode).length, Entries: out }));
    for (const w of waiters.splice(0)) w();
  });

  return {
    url: server.url,
    /** Entries taken, in order. */
    events,
    /** Entries refused (denied or malformed), in order. */
    refused,
    close: server.close,
    /** Resolves when `until()` holds, or at `deadline` (epoch ms). */
    async waitFor(until: () => boolean, deadline: number): Promise<boolean> {
      while (!until() && Date.now() < deadline) {
        await new Promise<void>((ok) => {
          waiters.push(ok);
          setTimeout(ok, Math.max(0, Math.min(1000, deadline - Date.now())));
        });
      }
      return until();
    },
  };
}

function isJsonObject(s: string): boolean {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === "object" && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

export type EventBridgeStandIn = Awaited<ReturnType<typeof startEventBridgeStandIn>>;
