/**
 * A notification target as a request names it (`notify[]` of registrations,
 * imports, exports and subscriptions; `POST /targets/test`), and its
 * translation into the use cases' {@link TargetSpec}. One schema per channel;
 * every user-supplied URL passes the SSRF check.
 */
import * as z from "../domain/zod";
import { EventBusArn, PAGERDUTY_ENDPOINTS, PagerDutyRegion, type TargetSpec, WebhookSecret } from "../domain/target";
import { LabelName } from "../domain/labels";
import { checkTargetUrl } from "../domain/target-url";
import { validationError } from "./errors";

/** A receiver URL: https, and no private address unless the deployment allows them (see `notify/ssrf-guard.ts`). */
const targetUrl = (allowPrivate: boolean) =>
  z.string().check(
    z.maxLength(2048),
    z.superRefine((s, ctx) => {
      const check = checkTargetUrl(s, { allowPrivate });
      if (!check.ok) ctx.addIssue({ code: "custom", message: check.message, input: s });
    }),
  );

/** One notification target of a request, for a deployment that allows private targets or not. */
export const notifyRequest = (allowPrivate: boolean) =>
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("slack"), webhook_url: targetUrl(allowPrivate) }),
    z.strictObject({ type: z.literal("webhook"), url: targetUrl(allowPrivate), secret: WebhookSecret }),
    z.strictObject({ type: z.literal("teams"), webhook_url: targetUrl(allowPrivate), format: z.optional(z.enum(["message", "card"])) }),
    z.strictObject({ type: z.literal("google_chat"), webhook_url: targetUrl(allowPrivate) }),
    z.strictObject({ type: z.literal("mattermost"), webhook_url: targetUrl(allowPrivate) }),
    z.strictObject({
      type: z.literal("pagerduty"),
      routing_key: z.string().check(z.regex(/^[A-Za-z0-9]{32}$/, "must be a 32-character PagerDuty integration key")),
      region: z.optional(PagerDutyRegion),
      dedup_label: z.optional(LabelName),
    }),
    z.strictObject({ type: z.literal("eventbridge"), event_bus_arn: EventBusArn }),
  ]);
export type NotifyRequest = z.infer<ReturnType<typeof notifyRequest>>;

/**
 * The targets a request names, in the use cases' terms. An EventBridge bus
 * the deployment does not list in `EVENTBRIDGE_BUS_ARNS` is a 400 naming it:
 * the poller's role may put events on those alone.
 * @param path where the list sits in the body, for the 400's issues (`notify`)
 */
export function targetSpecsOf(notify: readonly NotifyRequest[], allowedBuses: readonly string[], path = "notify"): TargetSpec[] {
  const refused = notify.flatMap((n, i) =>
    n.type === "eventbridge" && !allowedBuses.includes(n.event_bus_arn)
      ? [{ path: `${path}.${i}.event_bus_arn`, message: "this deployment may not put events on that bus (see EVENTBRIDGE_BUS_ARNS)" }]
      : [],
  );
  if (refused.length > 0) throw validationError(refused);
  return notify.map(targetSpecOf);
}

function targetSpecOf(n: NotifyRequest): TargetSpec {
  switch (n.type) {
    case "slack":
    case "google_chat":
    case "mattermost":
      return { type: n.type, url: n.webhook_url };
    case "teams":
      return { type: n.type, url: n.webhook_url, ...(n.format === "card" ? { format: "card" as const } : {}) };
    case "webhook":
      return { type: n.type, url: n.url, secret: n.secret };
    case "pagerduty":
      return {
        type: n.type,
        url: PAGERDUTY_ENDPOINTS[n.region ?? "us"],
        routing_key: n.routing_key,
        ...(n.dedup_label !== undefined ? { dedup_label: n.dedup_label } : {}),
      };
    case "eventbridge":
      return { type: n.type, url: n.event_bus_arn };
  }
}
