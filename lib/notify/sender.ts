/**
 * The {@link Sender} over undici: one notification try to a chat webhook
 * (Slack, Teams, Google Chat, Mattermost), a Standard Webhooks receiver,
 * PagerDuty's Events API or an EventBridge bus. What a try means for the
 * target's delivery state is `domain/delivery.ts`.
 */
import type { Dispatcher } from "undici";
import type { SendOutcome } from "../domain/delivery";
import { errorCode, isTimeout } from "../domain/error-text";
import { type NotifyTarget, PAGERDUTY_ENDPOINTS } from "../domain/target";
import type { WatchView } from "../domain/watch-view";
import { type AwsCredentials, putEvent } from "../aws/eventbridge-put";
import { requestCapped } from "../net/http-request";
import { parseRetryAfter } from "../net/retry-after";
import { buildEventBridgeEntry, EVENT_SOURCE } from "./eventbridge-event";
import { buildGoogleChatMessage } from "./google-chat-message";
import { buildMattermostMessage } from "./mattermost-message";
import { buildPagerDutyEvent } from "./pagerduty-event";
import { buildSlackMessage } from "./slack-message";
import { SSRF_BLOCKED } from "./ssrf-guard";
import { buildTeamsPayload } from "./teams-message";
import type { Sender, SendOptions } from "../app/ports";
import { SEND_TIMEOUT_MS } from "../app/timing";
import { buildWebhookBody, webhookEventType, webhookHeaders } from "./webhook-signature";

/** PutEvents per-entry error codes worth a retry; any other code is final. */
const EVENTBRIDGE_RETRYABLE = new Set(["ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable"]);

export interface HttpSenderOptions {
  /** Connections to user-supplied URLs go through it; in production the SSRF-guarded agent. */
  dispatcher: Dispatcher;
  /** One try; default the documented 15 s (`SEND_TIMEOUT_MS`), which the poller's reserve counts. */
  timeoutMs?: number;
  /** `PAGERDUTY_EVENTS_URL`: replaces the regional Events API endpoint (tests, the local stack). */
  pagerdutyEventsUrl?: string | null;
  /** EventBridge: the caller's credentials (null: none, every try fails) and `AWS_ENDPOINT_URL_EVENTBRIDGE`. */
  eventBridge?: { credentials: AwsCredentials | null; endpoint?: string | null };
  /**
   * For the endpoints the operator configured rather than a user
   * (`PAGERDUTY_EVENTS_URL`, `AWS_ENDPOINT_URL_EVENTBRIDGE`), which may be
   * local; default `dispatcher`.
   */
  trustedDispatcher?: Dispatcher;
}

/** One HTTP POST a target needs, or a result known without sending. */
type Prepared = { url: string; headers: Record<string, string>; body: string; trusted?: boolean } | { done: SendOutcome };

const JSON_HEADERS = { "content-type": "application/json" } as const;

/** Sender over undici for every target type. */
export function httpSender(opts: HttpSenderOptions): Sender {
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;

  function prepare(target: NotifyTarget, view: WatchView, eventId: string, now: Date, test: boolean): Prepared {
    const chat = (payload: unknown): Prepared => ({ url: target.url, headers: { ...JSON_HEADERS }, body: JSON.stringify(payload) });
    switch (target.type) {
      case "slack":
        return chat(buildSlackMessage(view, { now }));
      case "teams":
        return chat(buildTeamsPayload(view, { now, format: target.format ?? "message" }));
      case "google_chat":
        return chat(buildGoogleChatMessage(view, { now }));
      case "mattermost":
        return chat(buildMattermostMessage(view, { now }));
      case "pagerduty": {
        const event = buildPagerDutyEvent(target, view, eventId, { now, test });
        if (event === null) return { done: { ok: false, final: true, error: `PagerDuty sends nothing for outcome ${view.outcome ?? view.status}` } };
        const override = opts.pagerdutyEventsUrl ?? null;
        return { url: override ?? target.url ?? PAGERDUTY_ENDPOINTS.us, headers: { ...JSON_HEADERS }, body: JSON.stringify(event), trusted: override !== null };
      }
      case "webhook": {
        if (target.secret === undefined) return { done: { ok: false, final: true, error: "webhook target has no secret" } };
        const body = buildWebhookBody(view, now, test ? "task.test" : undefined);
        // Re-signed on every try with a fresh timestamp; the id stays the event's.
        return { url: target.url, headers: webhookHeaders({ id: eventId, timestampS: Math.floor(now.getTime() / 1000), body, secret: target.secret }), body };
      }
      case "eventbridge":
        return { done: { ok: false, final: true, error: "eventbridge is not sent over HTTP here" } };
    }
  }

  async function sendEventBridge(target: NotifyTarget, view: WatchView, now: Date, test: boolean): Promise<SendOutcome> {
    const credentials = opts.eventBridge?.credentials ?? null;
    if (credentials === null) return { ok: false, final: false, error: "no AWS credentials to put events with" };
    const type = test ? "task.test" : webhookEventType(view.status);
    if (type === null) return { ok: false, final: true, error: `status ${view.status} sends no event` };
    const entry = { EventBusName: target.url, Source: EVENT_SOURCE, ...buildEventBridgeEntry(view, type, now) };
    try {
      const endpoint = opts.eventBridge?.endpoint;
      const dispatcher = endpoint ? (opts.trustedDispatcher ?? opts.dispatcher) : opts.dispatcher;
      const res = await putEvent(entry, { credentials, dispatcher, timeoutMs, ...(endpoint ? { endpoint } : {}) });
      if (res.status === 200 && res.failed === null) return { ok: true, status: 200 };
      if (res.status === 200 && res.failed !== null) {
        // Only these per-entry errors pass with time (AWS: PutEvents failure handling); an
        // AccessDeniedException or a malformed entry fails the same way on every retry.
        const final = !EVENTBRIDGE_RETRYABLE.has(res.failed.code);
        return { ok: false, final, http_status: 200, error: `PutEvents refused the entry: ${res.failed.code} ${res.failed.message}`.slice(0, 300) };
      }
      return classify(res.status, res.headers, res.body, now);
    } catch (err) {
      return failedConnection(err, timeoutMs);
    }
  }

  return {
    async send(target, view, eventId, now, sendOpts?: SendOptions) {
      const test = sendOpts?.test === true;
      let prepared: Prepared;
      try {
        if (target.type === "eventbridge") return await sendEventBridge(target, view, now, test);
        prepared = prepare(target, view, eventId, now, test);
      } catch (err) {
        // A message we cannot build will not build on a retry either.
        return { ok: false, final: true, error: `cannot build the notification: ${err instanceof Error ? err.name : "error"}` };
      }
      if ("done" in prepared) return prepared.done;
      try {
        const res = await requestCapped(prepared.url, {
          method: "POST",
          headers: { ...prepared.headers, "user-agent": "apig-taskwatch/0.1" },
          body: prepared.body,
          dispatcher: prepared.trusted ? (opts.trustedDispatcher ?? opts.dispatcher) : opts.dispatcher,
          timeoutMs,
          // Enough of an error page to show in `last_error`; the rest is not read.
          maxBodyBytes: 2048,
          overflow: "truncate",
        });
        const outcome = classify(res.status, res.headers, res.body, now);
        // A set-up test must not leave an incident open: resolve the one it just triggered.
        if (test && outcome.ok && target.type === "pagerduty") await resolveTest(prepared, target.routing_key ?? "", eventId);
        return outcome;
      } catch (err) {
        return failedConnection(err, timeoutMs);
      }
    },
  };

  async function resolveTest(prepared: Exclude<Prepared, { done: SendOutcome }>, routingKey: string, dedupKey: string): Promise<void> {
    try {
      const res = await requestCapped(prepared.url, {
        method: "POST",
        headers: { ...JSON_HEADERS, "user-agent": "apig-taskwatch/0.1" },
        body: JSON.stringify({ routing_key: routingKey, event_action: "resolve", dedup_key: dedupKey }),
        dispatcher: prepared.trusted ? (opts.trustedDispatcher ?? opts.dispatcher) : opts.dispatcher,
        timeoutMs,
        maxBodyBytes: 512,
        overflow: "truncate",
      });
      void res;
    } catch {
      // Best effort: the test's answer is the trigger's.
    }
  }
}

/** What a receiver's answer means: delivered, final (410), or another try (with its `Retry-After`). */
function classify(status: number, headers: Record<string, string | string[] | undefined>, body: string, now: Date): SendOutcome {
  if (status >= 200 && status < 300) return { ok: true, status };
  const retryAfterMs = parseRetryAfter(headers["retry-after"], now);
  const text = body.replace(/\s+/g, " ").trim();
  const error = `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`;
  const receiver_body = Buffer.from(body, "utf8").subarray(0, 200).toString("utf8");
  // 410 Gone: the receiver says this endpoint will never accept again.
  if (status === 410) return { ok: false, final: true, error, http_status: status, receiver_body };
  if (status >= 300 && status < 400) return { ok: false, final: false, error: `HTTP ${status} redirect (not followed)`, http_status: status, receiver_body };
  return { ok: false, final: false, error, http_status: status, receiver_body, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

function failedConnection(err: unknown, timeoutMs: number): SendOutcome {
  // The guard will refuse this address on every try: dead now, not after a day of retries.
  const final = errorCode(err, "") === SSRF_BLOCKED;
  return { ok: false, final, error: describeError(err, timeoutMs) };
}

function describeError(err: unknown, timeoutMs: number): string {
  if (isTimeout(err)) return `no answer within ${timeoutMs} ms`;
  const code = errorCode(err, "");
  if (code === SSRF_BLOCKED) return "target address not allowed";
  return `connection failed${code ? ` (${code})` : ""}`;
}
