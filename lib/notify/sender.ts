/**
 * Sending one notification try to one target, and the pure bookkeeping of
 * what that try means for the target's delivery state (retry, dead, done).
 */
import { type Dispatcher, request } from "undici";
import { parseRetryAfter } from "../platform/retry-after";
import { buildSlackMessage } from "./slack-message";
import type { NotifyTarget } from "../domain/watch";
import type { WatchView } from "../domain/watch-view";
import { buildWebhookBody, webhookHeaders } from "./webhook-signature";

/** The result of one try. */
export type SendOutcome =
  | { ok: true; status: number }
  | { ok: false; final: boolean; error: string; retryAfterMs?: number };

/** Sends a notification try; the seam tests and the tick use. */
export interface Sender {
  send(target: NotifyTarget, view: WatchView, eventId: string, now: Date): Promise<SendOutcome>;
}

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

/**
 * What one try means for a target: delivered, another try later (with the
 * schedule's delay, jittered, never sooner than `Retry-After`), or dead.
 * Pure; `random` in [0, 1).
 */
export function afterTry(
  target: NotifyTarget,
  outcome: SendOutcome,
  now: Date,
  retryScheduleS: readonly number[],
  random: () => number,
): NotifyTarget {
  const attempts = target.attempts + 1;
  if (outcome.ok) {
    return { ...target, attempts, state: "delivered", last_error: null, next_attempt_at: null, delivered_at: now.toISOString() };
  }
  const delayS = retryScheduleS[attempts - 1];
  if (outcome.final || delayS === undefined) {
    return { ...target, attempts, state: "dead", last_error: outcome.error, next_attempt_at: null };
  }
  // +-20 % jitter keeps many watches that finished together from retrying in lockstep.
  const jittered = delayS * 1000 * (0.8 + 0.4 * random());
  const delayMs = Math.max(jittered, outcome.retryAfterMs ?? 0);
  return { ...target, attempts, state: "pending", last_error: outcome.error, next_attempt_at: now.getTime() + Math.round(delayMs) };
}
