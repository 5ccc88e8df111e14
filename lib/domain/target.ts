/**
 * A notification target of a watch and its delivery state: the schema every
 * layer derives its types from, and the one parser of webhook secrets that
 * configuration and registration share.
 */
import { createHash } from "node:crypto";
import * as z from "./zod";

/**
 * Delivery state of one target:
 * `pending` (owed, or not yet owed while the watch runs) -> `delivered` | `dead`;
 * `skipped` when the watch was cancelled.
 */
export const DeliveryState = z.enum(["pending", "delivered", "dead", "skipped"]);
export type DeliveryState = z.infer<typeof DeliveryState>;

/**
 * The channels a notification goes to. Chat channels (`slack`, `teams`,
 * `google_chat`, `mattermost`) and `webhook` post to a user-supplied URL;
 * `pagerduty` posts to PagerDuty's Events API for its region; `eventbridge`
 * puts an event on an Amazon EventBridge bus the deployment allows.
 */
export const TargetType = z.enum(["slack", "webhook", "teams", "google_chat", "mattermost", "pagerduty", "eventbridge"]);
export type TargetType = z.infer<typeof TargetType>;

/** PagerDuty's Events API v2 `enqueue` endpoint per service region. */
export const PAGERDUTY_ENDPOINTS = {
  us: "https://events.pagerduty.com/v2/enqueue",
  eu: "https://events.eu.pagerduty.com/v2/enqueue",
} as const;
export const PagerDutyRegion = z.enum(["us", "eu"]);
export type PagerDutyRegion = z.infer<typeof PagerDutyRegion>;

/** An EventBridge bus ARN: `arn:aws:events:<region>:<account>:event-bus/<name>` (any AWS partition). */
export const EventBusArn = z.string().check(
  z.maxLength(1600),
  z.regex(/^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[A-Za-z0-9._\-/]{1,256}$/, "must be an event bus ARN (arn:aws:events:region:account:event-bus/name)"),
);

/** The AWS region of a bus ARN (its fourth field). */
export function busRegion(arn: string): string {
  return arn.split(":")[3] ?? "";
}

/** How many tries each target keeps in its {@link NotifyTarget} `attempts_log`. */
export const ATTEMPTS_LOGGED = 10;

/** One notification try as the receiver saw it; `http_status` is null when no answer came. */
export const AttemptLogEntry = z.object({
  /** When the try started. */
  at: z.string(),
  http_status: z.nullable(z.number()),
  duration_ms: z.number(),
  /** Null for a delivered try. */
  error: z.nullable(z.string()),
});
export type AttemptLogEntry = z.infer<typeof AttemptLogEntry>;

/** One notification target as stored on the watch (the outbox lives here). */
export const NotifyTarget = z.object({
  /** Stable per watch: `t0`, `t1`, ... */
  id: z.string(),
  type: TargetType,
  /**
   * Where the notification goes: the full webhook URL (chat channels and
   * webhooks; never shown by the API, Slack URLs are secrets too), PagerDuty's
   * regional endpoint, or the EventBridge bus ARN.
   */
  url: z.string(),
  /** `whsec_...`, webhook targets only; never shown by the API. */
  secret: z.optional(z.string()),
  /** Teams: `card` posts the bare Adaptive Card; absent, the message envelope. */
  format: z.optional(z.enum(["message", "card"])),
  /** PagerDuty integration key; a secret, never shown by the API. */
  routing_key: z.optional(z.string()),
  /** PagerDuty: the label whose value (with the tenant) keys incidents, so a later success resolves them. */
  dedup_label: z.optional(z.string()),
  /** PagerDuty: the dedup key, fixed when the target joins the watch (tenant + that label's value). */
  dedup_key: z.optional(z.string()),
  /** The subscription that added this target when the watch turned terminal; absent for the registration's own. */
  subscription: z.optional(z.string()),
  state: DeliveryState,
  attempts: z.number(),
  last_error: z.nullable(z.string()),
  /** Epoch ms of the next try while `pending` on a terminal watch. */
  next_attempt_at: z.nullable(z.number()),
  delivered_at: z.nullable(z.string()),
  /**
   * The last {@link ATTEMPTS_LOGGED} tries, oldest first, across redeliveries.
   * Defaults to empty so items written before it existed still parse.
   */
  attempts_log: z._default(z.array(AttemptLogEntry), []),
});
export type NotifyTarget = z.infer<typeof NotifyTarget>;

const SECRET_PREFIX = "whsec_";
/** Standard Webhooks asks for 24 to 64 random bytes. */
export const WEBHOOK_KEY_BYTES = { min: 24, max: 64 } as const;

/**
 * Parse a `whsec_<base64>` secret into its key bytes. Messages never echo the
 * secret: they end up in API error answers and start-up errors.
 */
export function parseWebhookSecret(s: string): { ok: true; key: Buffer } | { ok: false; message: string } {
  if (!s.startsWith(SECRET_PREFIX)) return { ok: false, message: `must start with ${SECRET_PREFIX}` };
  const b64 = s.slice(SECRET_PREFIX.length);
  // Buffer.from(..., "base64") skips junk silently; insist on the alphabet so
  // a mangled secret is refused now instead of failing every signature later.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || (b64.includes("=") && b64.length % 4 !== 0) || b64.length % 4 === 1) {
    return { ok: false, message: `must be ${SECRET_PREFIX} followed by standard base64` };
  }
  const key = Buffer.from(b64, "base64");
  if (key.length < WEBHOOK_KEY_BYTES.min || key.length > WEBHOOK_KEY_BYTES.max) {
    return {
      ok: false,
      message: `must encode ${WEBHOOK_KEY_BYTES.min} to ${WEBHOOK_KEY_BYTES.max} bytes, got ${key.length}`,
    };
  }
  return { ok: true, key };
}

/** {@link parseWebhookSecret} as a schema check, for the API body and the environment alike. */
export const WebhookSecret = z.string().check(
  z.maxLength(200),
  z.superRefine((s, ctx) => {
    const r = parseWebhookSecret(s);
    if (!r.ok) ctx.addIssue({ code: "custom", message: r.message, input: s });
  }),
);

/** A target as the caller names it, before it gets its id and delivery state. */
export type TargetSpec = Pick<NotifyTarget, "type" | "url" | "secret" | "format" | "routing_key" | "dedup_label">;

/** True when two targets name the same destination with the same settings (and secret). */
export function sameTargetSpec(a: TargetSpec, b: TargetSpec): boolean {
  return (
    a.type === b.type &&
    a.url === b.url &&
    a.secret === b.secret &&
    (a.format ?? "message") === (b.format ?? "message") &&
    a.routing_key === b.routing_key &&
    a.dedup_label === b.dedup_label
  );
}

/** Longest dedup key PagerDuty accepts. */
const DEDUP_KEY_MAX = 255;

/**
 * The PagerDuty dedup key of a watch's target: the tenant plus the value of
 * its `dedup_label`, so every watch of that tenant with the same value
 * (the same pipeline) triggers and resolves one incident. Undefined without
 * a `dedup_label` or when the watch lacks that label.
 */
export function pagerDutyDedupKey(tenant: string, labels: Record<string, string>, dedupLabel: string | undefined): string | undefined {
  if (dedupLabel === undefined || !Object.hasOwn(labels, dedupLabel)) return undefined;
  const key = `taskwatch/${tenant}/${dedupLabel}=${labels[dedupLabel]}`;
  if (key.length <= DEDUP_KEY_MAX) return key;
  return `taskwatch/${createHash("sha256").update(key).digest("hex")}`;
}

/**
 * What a PagerDuty target sends for a watch's outcome: `trigger` on a failure
 * outcome, `resolve` on a success when it has a dedup key (the incident the
 * same pipeline opened before), otherwise nothing.
 */
export function pagerDutyAction(outcome: string | null, dedupKey: string | undefined): "trigger" | "resolve" | null {
  if (outcome === "failed" || outcome === "partial" || outcome === "timed_out" || outcome === "not_found" || outcome === "error") return "trigger";
  if (outcome === "succeeded" && dedupKey !== undefined) return "resolve";
  return null;
}

/**
 * A fresh target: nothing owed until the watch ends. Pure.
 * @param of the watch it joins, which fixes a PagerDuty target's dedup key
 */
export function newTarget(spec: TargetSpec, index: number, of?: { tenant: string; labels: Record<string, string> }): NotifyTarget {
  const dedupKey = of ? pagerDutyDedupKey(of.tenant, of.labels, spec.dedup_label) : undefined;
  return {
    id: `t${index}`,
    type: spec.type,
    url: spec.url,
    ...(spec.secret !== undefined ? { secret: spec.secret } : {}),
    ...(spec.format !== undefined ? { format: spec.format } : {}),
    ...(spec.routing_key !== undefined ? { routing_key: spec.routing_key } : {}),
    ...(spec.dedup_label !== undefined ? { dedup_label: spec.dedup_label } : {}),
    ...(dedupKey !== undefined ? { dedup_key: dedupKey } : {}),
    state: "pending",
    attempts: 0,
    last_error: null,
    next_attempt_at: null,
    delivered_at: null,
    attempts_log: [],
  };
}
