/**
 * The {@link Sender} over undici: one notification try to a Slack incoming
 * webhook or a Standard Webhooks receiver. What a try means for the target's
 * delivery state is `domain/delivery.ts`.
 */
import type { Dispatcher } from "undici";
import { errorCode, isTimeout } from "../domain/error-text";
import { requestCapped } from "../net/http-request";
import { parseRetryAfter } from "../net/retry-after";
import { buildSlackMessage } from "./slack-message";
import { SSRF_BLOCKED } from "./ssrf-guard";
import type { Sender } from "../app/ports";
import { SEND_TIMEOUT_MS } from "../app/timing";
import { buildWebhookBody, webhookHeaders } from "./webhook-signature";

export interface HttpSenderOptions {
  /** Connections go through it; in production the SSRF-guarded agent. */
  dispatcher: Dispatcher;
  /** One try; default the documented 15 s (`SEND_TIMEOUT_MS`), which the poller's reserve counts. */
  timeoutMs?: number;
}

/** Sender over undici: Slack incoming webhooks and Standard Webhooks. */
export function httpSender(opts: HttpSenderOptions): Sender {
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  return {
    async send(target, view, eventId, now) {
      let body: string;
      let headers: Record<string, string>;
      try {
        if (target.type === "slack") {
          body = JSON.stringify(buildSlackMessage(view, { now }));
          headers = { "content-type": "application/json" };
        } else {
          if (target.secret === undefined) return { ok: false, final: true, error: "webhook target has no secret" };
          body = buildWebhookBody(view, now);
          // Re-signed on every try with a fresh timestamp; the id stays the event's.
          headers = webhookHeaders({ id: eventId, timestampS: Math.floor(now.getTime() / 1000), body, secret: target.secret });
        }
      } catch (err) {
        // A message we cannot build will not build on a retry either.
        return { ok: false, final: true, error: `cannot build the notification: ${err instanceof Error ? err.name : "error"}` };
      }
      try {
        const res = await requestCapped(target.url, {
          method: "POST",
          headers: { ...headers, "user-agent": "apig-taskwatch/0.1" },
          body,
          dispatcher: opts.dispatcher,
          timeoutMs,
          // Enough of an error page to show in `last_error`; the rest is not read.
          maxBodyBytes: 2048,
          overflow: "truncate",
        });
        if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
        const retryAfterMs = parseRetryAfter(res.headers["retry-after"], now);
        const text = res.body.replace(/\s+/g, " ").trim();
        const error = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
        // 410 Gone: the receiver says this endpoint will never accept again.
        const http_status = res.status;
        if (res.status === 410) return { ok: false, final: true, error, http_status };
        if (res.status >= 300 && res.status < 400) {
          return { ok: false, final: false, error: `HTTP ${res.status} redirect (not followed)`, http_status };
        }
        return { ok: false, final: false, error, http_status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      } catch (err) {
        // The guard will refuse this address on every try: dead now, not after a day of retries.
        const final = errorCode(err, "") === SSRF_BLOCKED;
        return { ok: false, final, error: describeError(err, timeoutMs) };
      }
    },
  };
}

function describeError(err: unknown, timeoutMs: number): string {
  if (isTimeout(err)) return `no answer within ${timeoutMs} ms`;
  const code = errorCode(err, "");
  if (code === SSRF_BLOCKED) return "target address not allowed";
  return `connection failed${code ? ` (${code})` : ""}`;
}
