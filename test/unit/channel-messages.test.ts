/**
 * The channel builders stay inside each service's size limit whatever the
 * watch holds: the most a stored result can carry (100 failures of 64 KiB
 * text each, in 4-byte characters), 20 long labels, a huge raw result.
 */
import { describe, expect, it } from "vitest";
import type { WatchView } from "../../lib/domain/watch-view";
import { buildGoogleChatMessage, GOOGLE_CHAT_MAX_BYTES } from "../../lib/notify/google-chat-message";
import { buildMattermostMessage, MATTERMOST_MAX_BYTES } from "../../lib/notify/mattermost-message";
import { buildPagerDutyEvent, PAGERDUTY_MAX_BYTES } from "../../lib/notify/pagerduty-event";
import { buildTeamsPayload, TEAMS_MAX_BYTES } from "../../lib/notify/teams-message";
import { buildEventBridgeEntry, EVENTBRIDGE_MAX_BYTES } from "../../lib/notify/eventbridge-event";
import { completeOutbox } from "../../lib/domain/subscription";
import { pagerDutyAction } from "../../lib/domain/target";

const AT = "2026-11-28T10:03:12.000Z";
const huge = "😀".repeat(32 * 1024);

function view(patch: Partial<WatchView> = {}): WatchView {
  const labels = Object.create(null) as Record<string, string>;
  for (let i = 0; i < 20; i++) labels[`label-${i}-${"n".repeat(50)}`] = "v".repeat(256);
  return {
    task_id: "t".repeat(64),
    project_id: "p".repeat(64),
    instance_id: "g".repeat(64),
    region: "eu-de",
    status: "succeed",
    outcome: "partial",
    task_type: "import_api",
    created_at: "2026-11-28T10:00:00.000Z",
    updated_at: AT,
    finished_at: AT,
    deadline_at: "2026-11-29T10:00:00.000Z",
    history: [{ status: "succeed", at: AT }],
    result: {
      kind: "import",
      group_id: "g",
      success_count: 0,
      failure_count: 200,
      ignore_count: 0,
      success: [],
      failure: Array.from({ length: 100 }, (_, i) => ({ method: "POST", path: `/p/${i}/${huge.slice(0, 500)}`, error_code: "APIG.3301", error_msg: huge })),
      ignore: [],
      truncated: true,
    },
    last_error: { code: "x", message: huge, http_status: null, at: AT },
    labels,
    notify: [],
    ...patch,
  };
}

const size = (p: unknown) => Buffer.byteLength(JSON.stringify(p), "utf8");

describe("channel messages fit their service's limit at the worst the watch can hold", () => {
  it("Teams (envelope and card), Google Chat, Mattermost, PagerDuty", () => {
    const v = view();
    const teams = buildTeamsPayload(v, { format: "message" });
    const card = buildTeamsPayload(v, { format: "card" });
    expect(size(teams)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(size(card)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(size(buildGoogleChatMessage(v))).toBeLessThanOrEqual(GOOGLE_CHAT_MAX_BYTES);
    expect(size(buildMattermostMessage(v))).toBeLessThanOrEqual(MATTERMOST_MAX_BYTES);
    expect(size(buildPagerDutyEvent({ routing_key: "k" }, v, "msg_1"))).toBeLessThanOrEqual(PAGERDUTY_MAX_BYTES);
    // Still says the essentials when cut down.
    expect(JSON.stringify(card)).toContain("Import partly succeeded: 200 APIs failed");
    expect(JSON.stringify(buildMattermostMessage(v))).toContain("Failed APIs (first");
  });

  it("a raw result of 64 KiB in 4-byte characters", () => {
    const v = view({ status: "failed", outcome: "failed", result: { kind: "raw", raw: huge + huge, truncated: true } });
    expect(size(buildTeamsPayload(v))).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(size(buildGoogleChatMessage(v))).toBeLessThanOrEqual(GOOGLE_CHAT_MAX_BYTES);
    expect(size(buildMattermostMessage(v))).toBeLessThanOrEqual(MATTERMOST_MAX_BYTES);
  });

  it("an EventBridge entry over 256 KB goes shortened and marked truncated", () => {
    const e = buildEventBridgeEntry(view(), "task.succeeded", new Date(AT));
    expect(Buffer.byteLength(e.Detail) + 14 + 14 + 14).toBeLessThanOrEqual(EVENTBRIDGE_MAX_BYTES);
    expect(JSON.parse(e.Detail).data).toMatchObject({ truncated: true, result: { failure_count: 200 } });
    const small = buildEventBridgeEntry(view({ result: null, last_error: null }), "task.succeeded", new Date(AT));
    expect(JSON.parse(small.Detail).data.truncated).toBeUndefined();
  });
});

describe("PagerDuty actions", () => {
  it("trigger on every failure outcome; resolve a success only with a dedup key; nothing otherwise", () => {
    for (const o of ["failed", "partial", "timed_out", "not_found", "error"]) expect(pagerDutyAction(o, undefined)).toBe("trigger");
    expect(pagerDutyAction("succeeded", "taskwatch/acme/pipeline=1")).toBe("resolve");
    expect(pagerDutyAction("succeeded", undefined)).toBeNull();
    expect(pagerDutyAction("cancelled", "k")).toBeNull();
  });

  it("the outbox skips a PagerDuty target that owes nothing, and keeps the rest pending", () => {
    const base = {
      tenant: "acme", task_id: "t", project_id: "p", instance_id: "i", region: "eu-de", status: "succeed" as const, task_type: "import_api" as const,
      created_at: AT, updated_at: AT, finished_at: AT, deadline_at: AT, history: [], result: null, last_error: null, not_found_since: null,
      labels: Object.create(null) as Record<string, string>, event_id: "msg_1", version: 1,
    };
    const t = (id: string, type: "pagerduty" | "slack", dedup_key?: string) => ({
      id, type, url: "https://x.example", state: "pending" as const, attempts: 0, last_error: null, next_attempt_at: 1, delivered_at: null, attempts_log: [],
      ...(dedup_key ? { dedup_key } : {}),
    });
    const w = completeOutbox({ ...base, targets: [t("t0", "pagerduty"), t("t1", "pagerduty", "k"), t("t2", "slack")] }, []);
    expect(w.targets.map((x) => x.state)).toEqual(["skipped", "pending", "pending"]);
  });
});
