// @ts-check
/**
 * The notification targets a command names with options (`--slack URL`,
 * `--teams URL`, `--pagerduty KEY`, ...), shared by register, import,
 * export, subscribe and test-target, as the API's `notify` entries.
 */
import { many, optional, UsageError } from "./args.mjs";

/**
 * The `notify` entries the target options (`TARGET_OPTIONS` in args.mjs) name, in that order.
 * @param {import("./args.mjs").Values} v
 * @returns {Array<Record<string, string>>}
 */
export function targetsOf(v) {
  const webhooks = many(v, "webhook");
  const secrets = many(v, "secret");
  if (webhooks.length !== secrets.length) throw new UsageError("give one --secret per --webhook, in the same order");
  const region = optional(v, "pagerduty-region");
  if (region !== undefined && region !== "us" && region !== "eu") throw new UsageError("--pagerduty-region must be us or eu");
  const dedup = optional(v, "dedup-label");
  const keys = many(v, "pagerduty");
  if ((region !== undefined || dedup !== undefined) && keys.length === 0) throw new UsageError("--pagerduty-region and --dedup-label go with --pagerduty");
  return [
    ...webhooks.map((url, i) => ({ type: "webhook", url, secret: secrets[i] ?? "" })),
    ...many(v, "slack").map((webhook_url) => ({ type: "slack", webhook_url })),
    ...many(v, "teams").map((webhook_url) => ({ type: "teams", webhook_url })),
    ...many(v, "teams-card").map((webhook_url) => ({ type: "teams", webhook_url, format: "card" })),
    ...many(v, "google-chat").map((webhook_url) => ({ type: "google_chat", webhook_url })),
    ...many(v, "mattermost").map((webhook_url) => ({ type: "mattermost", webhook_url })),
    ...keys.map((routing_key) => ({
      type: "pagerduty",
      routing_key,
      ...(region !== undefined ? { region } : {}),
      ...(dedup !== undefined ? { dedup_label: dedup } : {}),
    })),
    ...many(v, "eventbridge").map((event_bus_arn) => ({ type: "eventbridge", event_bus_arn })),
  ];
}

/**
 * `k=v` options as an object.
 * @param {string[]} pairs
 * @param {string} option
 */
export function pairsOf(pairs, option) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const l of pairs) {
    const eq = l.indexOf("=");
    if (eq < 1) throw new UsageError(`--${option} must be key=value, got "${l}"`);
    out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}
