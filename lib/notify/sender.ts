/**
 * The {@link Sender} over undici: one notification try to a Slack incoming
 * webhook or a Standard Webhooks receiver. What a try means for the target's
 * delivery state is `domain/delivery.ts`.
 */
import { type Dispatcher, request } from "undici";
import { parseRetryAfter } from "../platform/retry-after";
import { buildSlackMessage } from "./slack-message";
import type { Sender } from "../app/ports";
import { buildWebhookBody, webhookHeaders } from "./webhook-signature";

export interface HttpSenderOptions {
  /** Connections go through it; in production the SSRF-guarded agent. */
  dispatcher: Dispatcher;
  timeoutMs?: number;
}

/** Sender over undici: Slack incoming webhooks and Standard Webhooks. */
export function httpSender(opts: HttpSenderOptions): Sender {
  const timeoutMs = opts.timeoutMs ?? 15_000;
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
        const res = await request(target.url, {
          method: "POST",
          headers: { ...headers, "user-agent": "apig-taskwatch/0.1" },
          body,
          dispatcher: opts.dispatcher,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await readSome(res.body);
        if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode };
        const retryAfterMs = parseRetryAfter(res.headers["retry-after"], now);
        const error = `HTTP ${res.statusCode}${text ? `: ${text.replace(/\s+/g, " ").slice(0, 200)}` : ""}`;
        // 410 Gone: the receiver says this endpoint will never accept again.
        if (res.statusCode === 410) return { ok: false, final: true, error };
        if (res.statusCode >= 300 && res.statusCode < 400) {
          return { ok: false, final: false, error: `HTTP ${res.statusCode} redirect (not followed)` };
        }
        return { ok: false, final: false, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      } catch (err) {
        return { ok: false, final: false, error: describeError(err, timeoutMs) };
      }
    },
  };
}

async function readSome(body: Dispatcher.ResponseData["body"]): Promise<string> {
  try {
    const text = await body.text();
    return text.slice(0, 500);
  } catch {
    return "";
  }
}

function describeError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || /timeout/i.test(err.name + String((err as { code?: unknown }).code))))
    return `no answer within ${timeoutMs} ms`;
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  if (code === "ERR_SSRF_BLOCKED") return "target address not allowed";
  return `connection failed${code ? ` (${code})` : ""}`;
}
