/**
 * A notification target of a watch and its delivery state: the schema every
 * layer derives its types from, and the one parser of webhook secrets that
 * configuration and registration share.
 */
import * as z from "./zod";

/**
 * Delivery state of one target:
 * `pending` (owed, or not yet owed while the watch runs) -> `delivered` | `dead`;
 * `skipped` when the watch was cancelled.
 */
export const DeliveryState = z.enum(["pending", "delivered", "dead", "skipped"]);
export type DeliveryState = z.infer<typeof DeliveryState>;

export const TargetType = z.enum(["slack", "webhook"]);
export type TargetType = z.infer<typeof TargetType>;

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
  /** Full URL; never shown by the API (Slack URLs are secrets too). */
  url: z.string(),
  /** `whsec_...`, webhook targets only; never shown by the API. */
  secret: z.optional(z.string()),
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
