/**
 * `POST /targets/test`: one `task.test` notification sent now to a target a
 * caller is setting up, so a wrong Teams workflow or a revoked Slack hook
 * shows at set-up time, not when the first import ends.
 */
import { randomBytes } from "node:crypto";
import type { TargetSpec } from "../domain/target";
import type { WatchView } from "../domain/watch-view";
import type { Sender } from "./ports";
import { newTarget } from "./register";

export type TestSendResult =
  | { ok: true; status: number; sent_at: string; duration_ms: number }
  | { ok: false; status: number | null; sent_at: string; duration_ms: number; error: string; body: string };

/** A sample finished import, as a notification shows it: clearly a test, with every field filled. */
export function sampleView(now: Date): WatchView {
  const at = now.toISOString();
  const started = new Date(now.getTime() - 42_000).toISOString();
  return {
    task_id: "test-notification",
    project_id: "sample-project",
    instance_id: "sample-gateway",
    region: "eu-de",
    status: "succeed",
    outcome: "succeeded",
    task_type: "import_api",
    created_at: started,
    updated_at: at,
    finished_at: at,
    deadline_at: new Date(now.getTime() + 86_400_000).toISOString(),
    history: [
      { status: "registered", at: started },
      { status: "succeed", at },
    ],
    result: {
      kind: "import",
      group_id: "sample-group",
      success_count: 1,
      failure_count: 0,
      ignore_count: 0,
      success: [{ id: "sample-api", method: "GET", path: "/sample", action: "create" }],
      failure: [],
      ignore: [],
      truncated: false,
    },
    last_error: null,
    labels: Object.assign(Object.create(null) as Record<string, string>, { taskwatch: "test" }),
    notify: [],
  };
}

/** Send the test notification to `spec` now, once (no retries: the caller sees the receiver's answer). */
export async function sendTestNotification(deps: { sender: Sender; clock: () => Date }, tenant: string, spec: TargetSpec): Promise<TestSendResult> {
  const now = deps.clock();
  const target = { ...newTarget(spec, 0, { tenant, labels: Object.create(null) as Record<string, string> }), next_attempt_at: now.getTime() };
  const eventId = `msg_test_${randomBytes(12).toString("hex")}`;
  const started = deps.clock().getTime();
  const outcome = await deps.sender.send(target, sampleView(now), eventId, now, { test: true });
  const duration_ms = Math.max(0, deps.clock().getTime() - started);
  const sent_at = now.toISOString();
  if (outcome.ok) return { ok: true, status: outcome.status, sent_at, duration_ms };
  return { ok: false, status: outcome.http_status ?? null, sent_at, duration_ms, error: outcome.error, body: outcome.receiver_body ?? "" };
}
