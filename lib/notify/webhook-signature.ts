/**
 * Standard Webhooks (v1): the HMAC-SHA256 signature (secrets parse in `domain/target.ts`), the
 * headers of a signed delivery, and the event body a webhook target receives.
 */
import { WebhookSignatureError } from "../domain/errors";
import { createHmac } from "node:crypto";
import { parseWebhookSecret } from "../domain/target";
import type { WatchStatus } from "../domain/watch";
import type { WatchView } from "../domain/watch-view";

/** A secret or status this module cannot work with; a programming error once registration validated. */

/** What is signed: the event id, Unix seconds and the exact body sent. */
export interface SignParams {
  id: string;
  timestampS: number;
  body: string;
  secret: string;
}

/**
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the decoded secret.
 * Throws `WebhookSignatureError` for a secret `parseWebhookSecret` refuses.
 */
export function signWebhook(params: SignParams): string {
  const parsed = parseWebhookSecret(params.secret);
  if (!parsed.ok) throw new WebhookSignatureError(`webhook secret ${parsed.message}`);
  if (!Number.isSafeInteger(params.timestampS)) throw new WebhookSignatureError("timestampS must be whole seconds");
  const mac = createHmac("sha256", parsed.key).update(`${params.id}.${params.timestampS}.${params.body}`).digest("base64");
  return `v1,${mac}`;
}

/** The headers of one signed delivery try. */
export function webhookHeaders(params: SignParams): Record<string, string> {
  return {
    "webhook-id": params.id,
    "webhook-timestamp": String(params.timestampS),
    "webhook-signature": signWebhook(params),
    "content-type": "application/json",
  };
}

/** Event types a webhook target can receive. */
export type WebhookEventType = "task.succeeded" | "task.failed" | "task.timed_out" | "task.not_found" | "task.error";

const EVENT_TYPES: Partial<Record<WatchStatus, WebhookEventType>> = {
  succeed: "task.succeeded",
  failed: "task.failed",
  timed_out: "task.timed_out",
  not_found: "task.not_found",
  error: "task.error",
};

/** The event type of a terminal status; `null` for `cancelled` and non-terminal states, which send nothing. */
export function webhookEventType(status: WatchStatus): WebhookEventType | null {
  return EVENT_TYPES[status] ?? null;
}

/**
 * The JSON body `{type, timestamp, data}` of the event for this watch
 * (`typeOverride`: the `task.test` event of a set-up test).
 * Throws `WebhookSignatureError` for a status that owes no notification.
 */
export function buildWebhookBody(view: WatchView, now: Date, typeOverride?: "task.test"): string {
  const type = typeOverride ?? webhookEventType(view.status);
  if (type === null) throw new WebhookSignatureError(`status ${view.status} sends no webhook event`);
  return JSON.stringify({ type, timestamp: now.toISOString(), data: view });
}
