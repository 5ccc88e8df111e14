/**
 * A partial import (APIG says `succeed`, some APIs failed) is told apart from
 * a clean one everywhere a pipeline looks: the watch view's `outcome`, the
 * webhook's `data.outcome`, and Slack's header (a warning, not a success).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const PARTIAL = JSON.stringify({
  group_id: "g1",
  success: [{ id: "a1", method: "GET", path: "/ok", action: "create" }],
  failure: [{ method: "POST", path: "/broken", error_code: "APIG.3301", error_msg: "duplicate" }],
});
const CLEAN = JSON.stringify({ group_id: "g1", success: [{ id: "a1", method: "GET", path: "/ok", action: "create" }], failure: [] });

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

async function finish(taskId: string, result: string) {
  const hook = await useReceiver();
  const slack = await useReceiver();
  h.task(taskId, [{ status: "succeed", result }]);
  const reg = await h.call("POST", "/tasks", {
    body: registration(taskId, [
      { type: "webhook", url: `${hook.url}/h`, secret: SECRET },
      { type: "slack", webhook_url: `${slack.url}/s` },
    ]),
  });
  // Registration stores it finished; the poller sends.
  await h.tick();
  const [wh] = await hook.waitFor(1);
  const [sl] = await slack.waitFor(1);
  return {
    reg: reg.json,
    view: (await h.call("GET", `/tasks/${taskId}`)).json,
    webhook: JSON.parse(wh!.body) as { type: string; data: { outcome: string } },
    slack: JSON.parse(sl!.body) as { text: string; blocks: Array<{ type: string; text?: { text: string } }> },
  };
}

describe("outcome", () => {
  it("a partial import: outcome partial in the view and the webhook, a warning in Slack", async () => {
    const r = await finish("oc-partial", PARTIAL);
    expect(r.reg).toMatchObject({ status: "succeed", outcome: "partial" });
    expect(r.view).toMatchObject({ status: "succeed", outcome: "partial", result: { failure_count: 1 } });
    expect(r.webhook.type).toBe("task.succeeded");
    expect(r.webhook.data.outcome).toBe("partial");
    const header = r.slack.blocks.find((b) => b.type === "header")!.text!.text;
    expect(header).toContain(":warning:");
    expect(header).toContain("partly succeeded");
    expect(header).not.toContain(":white_check_mark:");
    expect(r.slack.text).toMatch(/^Import partly succeeded/);
  });

  it("a clean import: outcome succeeded everywhere, a check mark in Slack", async () => {
    const r = await finish("oc-clean", CLEAN);
    expect(r.view.outcome).toBe("succeeded");
    expect(r.webhook.data.outcome).toBe("succeeded");
    expect(r.slack.blocks.find((b) => b.type === "header")!.text!.text).toContain(":white_check_mark:");
  });

  it("a running watch has outcome null; a failed one failed", async () => {
    h.task("oc-run", ["processing"]);
    expect((await h.call("POST", "/tasks", { body: registration("oc-run") })).json.outcome).toBeNull();
    h.task("oc-fail", [{ status: "failed", result: '{"error_code":"APIG.3201","error_msg":"bad swagger"}' }]);
    expect((await h.call("POST", "/tasks", { body: registration("oc-fail") })).json.outcome).toBe("failed");
  });
});
