/**
 * The CLI's subscription and test-send commands and the new target options,
 * run as a child process against the whole service on loopback.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, KEYS, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const CLI = join(import.meta.dirname, "..", "..", "cli", "taskwatch.mjs");
const KEY = "R0123456789abcdef0123456789abcde";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH!, TASKWATCH_URL: h.apiUrl, TASKWATCH_API_KEY: KEYS.acme }, timeout: 60_000 },
      (err, stdout, stderr) => ok({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });
}

describe("taskwatch subscribe / subscriptions / unsubscribe / test-target", () => {
  it("creates, lists and deletes a subscription; the routing key is never printed", async () => {
    const made = await cli(["subscribe", "prod-failures", "--outcome", "failed", "--outcome", "partial", "--task-type", "import_api", "--label", "env=prod", "--teams", "http://127.0.0.1:9/w", "--pagerduty", KEY, "--pagerduty-region", "eu", "--dedup-label", "pipeline"]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain("prod-failures  outcome=failed|partial task_type=import_api env=prod  -> teams http://127.0.0.1:9, pagerduty https://events.eu.pagerduty.com");
    const listed = await cli(["subscriptions", "--json"]);
    expect(JSON.parse(listed.stdout).items).toHaveLength(1);
    expect(listed.stdout + made.stdout).not.toContain(KEY);
    const again = await cli(["subscribe", "prod-failures", "--slack", "http://127.0.0.1:9/s"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("exists with another body");
    expect((await cli(["unsubscribe", "prod-failures"])).stdout).toContain("deleted prod-failures");
    expect((await cli(["subscriptions"])).stdout).toContain("(no subscriptions)");
    const missing = await cli(["unsubscribe", "prod-failures"]);
    expect(missing.code).toBe(1);
    expect((await cli(["subscribe", "x"])).code).toBe(2);
  });

  it("test-target: 0 and the receiver's status when it accepts; 1 and what it said when it answers 400", async () => {
    const r = await useReceiver();
    const ok = await cli(["test-target", "--google-chat", `${r.url}/v1/spaces/x`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("the receiver answered HTTP 200");
    r.fallback = { status: 400, body: "InvalidBotAdaptiveCard: the card is not valid" };
    const bad = await cli(["test-target", "--teams-card", `${r.url}/w`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("refused the test notification (HTTP 400): InvalidBotAdaptiveCard: the card is not valid");
    expect(JSON.parse(r.received[1]!.body)).toMatchObject({ type: "AdaptiveCard" });
    expect((await cli(["test-target"])).code).toBe(2);
  });

  it("register takes the new target types as options", async () => {
    h.task("cli-nt", ["processing"]);
    const r = await cli(["register", "--project", "proj1", "--instance", "inst1", "--task", "cli-nt", "--json", "--teams", "http://127.0.0.1:9/a", "--teams-card", "http://127.0.0.1:9/b", "--google-chat", "http://127.0.0.1:9/c", "--mattermost", "http://127.0.0.1:9/d", "--pagerduty", KEY]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).notify.map((t: { type: string }) => t.type)).toEqual(["teams", "teams", "google_chat", "mattermost", "pagerduty"]);
  });
});
