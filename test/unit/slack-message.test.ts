import { describe, expect, it } from "vitest";
import { buildSlackMessage, mrkdwnCut, type SlackBlock, type SlackText } from "../../lib/notify/slack-message";
import { parseTaskResult } from "../../lib/domain/task-result";
import { outcomeOf } from "../../lib/domain/watch";
import type { WatchView } from "../../lib/domain/watch-view";
import { DOC_STATUS_EXAMPLES } from "../fixtures/apig-doc-examples";

const CREATED = "2026-11-28T10:00:00.000Z";
const FINISHED = "2026-11-28T10:03:12.000Z";

/** The task_result of a documented example answer, parsed as the poller would. */
function docResult(i: number) {
  const answer = JSON.parse(DOC_STATUS_EXAMPLES[i] ?? "") as { task_result: string; task_type: string };
  return parseTaskResult(answer.task_result, answer.task_type);
}

function view(patch: Partial<WatchView> = {}): WatchView {
  const v: Omit<WatchView, "outcome"> = {
    task_id: "d9ce8c9eede54b3f841ec324fe0bfdc2",
    project_id: "proj-1",
    instance_id: "gw-1",
    region: "eu-de",
    status: "succeed",
    task_type: "import_api",
    created_at: CREATED,
    updated_at: FINISHED,
    finished_at: FINISHED,
    deadline_at: "2026-11-29T10:00:00.000Z",
    history: [
      { status: "registered", at: CREATED },
      { status: "processing", at: "2026-11-28T10:00:05.000Z" },
      { status: "succeed", at: FINISHED },
    ],
    result: null,
    last_error: null,
    labels: {},
    notify: [],
    ...patch,
  };
  return { ...v, outcome: patch.outcome ?? outcomeOf(v) };
}

const header = (blocks: SlackBlock[]) => {
  const h = blocks.find((b) => b.type === "header");
  return h?.type === "header" ? h.text.text : "";
};
const fields = (blocks: SlackBlock[]): string[] =>
  blocks.flatMap((b) => (b.type === "section" && b.fields ? b.fields.map((f) => f.text) : []));
const sectionTexts = (blocks: SlackBlock[]): string[] =>
  blocks.flatMap((b) => (b.type === "section" && b.text ? [b.text.text] : []));
const contextTexts = (blocks: SlackBlock[]): string[] =>
  blocks.flatMap((b) => (b.type === "context" ? b.elements.map((e: SlackText) => e.text) : []));
const allText = (m: { text: string; blocks: SlackBlock[] }) => JSON.stringify(m);

/** Every documented Block Kit limit, asserted on a built message. */
function expectWithinLimits(m: { text: string; blocks: SlackBlock[] }) {
  expect(m.text.length).toBeGreaterThan(0);
  expect(m.text.length).toBeLessThanOrEqual(3000);
  expect(m.blocks.length).toBeLessThanOrEqual(50);
  for (const b of m.blocks) {
    if (b.type === "header") expect(b.text.text.length).toBeLessThanOrEqual(150);
    if (b.type === "section") {
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
      if (b.fields) {
        expect(b.fields.length).toBeLessThanOrEqual(10);
        for (const f of b.fields) expect(f.text.length).toBeLessThanOrEqual(2000);
      }
      expect(b.text !== undefined || (b.fields?.length ?? 0) > 0).toBe(true);
    }
    if (b.type === "context") {
      expect(b.elements.length).toBeGreaterThan(0);
      expect(b.elements.length).toBeLessThanOrEqual(10);
      for (const e of b.elements) expect(e.text.length).toBeLessThanOrEqual(3000);
    }
  }
  // No lone surrogate anywhere: a cut never splits a pair.
  expect(allText(m)).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
}

describe("buildSlackMessage", () => {
  it("summarises the documented successful import: outcome, facts, counts, duration", () => {
    const m = buildSlackMessage(view({ result: docResult(0), labels: { team: "payments" } }));
    expectWithinLimits(m);
    expect(header(m.blocks)).toContain("Import succeeded");
    const f = fields(m.blocks);
    expect(f).toContain("*Task id*\nd9ce8c9eede54b3f841ec324fe0bfdc2");
    expect(f).toContain("*Gateway*\ngw-1");
    expect(f).toContain("*Project*\nproj-1");
    expect(f).toContain("*Region*\neu-de");
    expect(f).toContain("*Duration*\n3m 12s");
    expect(f).toContain("*Created*\n1");
    expect(f).toContain("*Updated*\n0");
    expect(f).toContain("*Failed*\n0");
    expect(f).toContain("*Ignored*\n0");
    expect(contextTexts(m.blocks)).toContain("team: payments");
    expect(m.text).toContain("Import succeeded");
    expect(m.text).toContain("d9ce8c9eede54b3f841ec324fe0bfdc2");
    expect(m.text).toContain("1 created, 0 updated, 0 failed, 0 ignored");
  });

  it("names the exported file and its type", () => {
    const m = buildSlackMessage(view({ task_type: "export_api", result: docResult(1) }));
    expectWithinLimits(m);
    expect(header(m.blocks)).toContain("Export succeeded");
    expect(fields(m.blocks)).toContain("*File*\ntest8-RELEASE-all-2023-07-11-19:54:22");
    expect(fields(m.blocks)).toContain("*File type*\n.json");
    expect(m.text).toContain("test8-RELEASE-all-2023-07-11-19:54:22.json");
    // The exported document itself is not pasted into the channel.
    expect(allText(m)).not.toContain("securityDefinitions");
  });

  it("shows APIG's error for a failed task", () => {
    const m = buildSlackMessage(view({ status: "failed", result: docResult(2) }));
    expectWithinLimits(m);
    expect(header(m.blocks)).toContain("Import failed");
    expect(sectionTexts(m.blocks).join("\n")).toContain("APIG.3201: The API group name already exists");
    expect(m.text).toContain("APIG.3201: The API group name already exists");
  });

  it("says a timed-out task timed out, with the last error or the deadline", () => {
    const withError = buildSlackMessage(
      view({
        status: "timed_out",
        last_error: { code: "http_503", message: "Service Unavailable", http_status: 503, at: FINISHED },
      }),
    );
    expectWithinLimits(withError);
    expect(header(withError.blocks)).toContain("Task timed out");
    expect(withError.text).toContain("http_503 (HTTP 503): Service Unavailable");

    const stillRunning = buildSlackMessage(view({ status: "timed_out", task_type: null }));
    expect(sectionTexts(stillRunning.blocks).join("\n")).toContain("deadline 2026-11-29T10:00:00.000Z passed while the task was processing");
  });

  it("says a task was not found, with APIG's 404 error", () => {
    const m = buildSlackMessage(
      view({
        status: "not_found",
        task_type: null,
        last_error: { code: "APIG.3093", message: "The asynchronous task does not exist", http_status: 404, at: FINISHED },
      }),
    );
    expectWithinLimits(m);
    expect(header(m.blocks)).toContain("Task not found");
    expect(m.text).toContain("APIG.3093");
  });

  it("says a task could not be watched for status error", () => {
    const m = buildSlackMessage(
      view({
        status: "error",
        task_type: null,
        last_error: { code: "APIG.1005", message: "No permissions to request this method", http_status: 403, at: FINISHED },
      }),
    );
    expectWithinLimits(m);
    expect(header(m.blocks)).toContain("Task could not be watched");
    expect(sectionTexts(m.blocks).join("\n")).toContain("APIG.1005 (HTTP 403): No permissions to request this method");
    expect(m.text).toContain("Task could not be watched");
  });

  it("keeps every Slack limit for 1,000 failures, 10 KB error texts and 10 KB labels", () => {
    const big = "x".repeat(10_000);
    const failures = Array.from({ length: 1000 }, (_, i) => ({
      method: "POST",
      path: `/api/item${i}`,
      error_code: `APIG.${3000 + i}`,
      error_msg: `${i}: ${big}`,
    }));
    const raw = JSON.stringify({ success: [], failure: failures, group_id: "g" });
    const labels = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`label${String(i).padStart(2, "0")}`, "😀".repeat(5000)]));
    const m = buildSlackMessage(
      view({
        status: "failed",
        result: parseTaskResult(raw, "import_api"),
        labels,
        last_error: { code: "APIG.9999", message: "é".repeat(10_000), http_status: 500, at: FINISHED },
        task_id: "t".repeat(10_000),
      }),
    );
    expectWithinLimits(m);
    const list = sectionTexts(m.blocks).find((t) => t.startsWith("*Failed APIs")) ?? "";
    for (let i = 0; i < 10; i++) expect(list).toContain(`POST /api/item${i}: APIG.${3000 + i}`);
    expect(list).not.toContain("/api/item10:");
    expect(list).toContain("…and 990 more");
    expect(fields(m.blocks)).toContain("*Failed*\n1000");
    expect(contextTexts(m.blocks)).toContain("…and 11 more labels");
    expect(m.text).toContain("1000 failed");
  });

  it("escapes Slack markup in APIG and user text so it cannot ping or link", () => {
    const m = buildSlackMessage(
      view({
        status: "failed",
        result: { kind: "failure", error_code: "APIG.3201", error_msg: "<script>alert(1)</script> <!channel> & <https://evil.example|click>" },
        labels: { "<!here>": "<@U123>" },
      }),
    );
    const json = allText(m);
    expect(json).not.toContain("<script>");
    expect(json).not.toContain("<!channel>");
    expect(json).not.toContain("<!here>");
    expect(json).not.toContain("<https://evil");
    expect(sectionTexts(m.blocks).join("\n")).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;");
    expect(m.text).toContain("&lt;!channel&gt;");
  });
});

describe("mrkdwnCut", () => {
  it("cuts before a surrogate pair or an entity, never inside one", () => {
    expect(mrkdwnCut("ab😀cd", 4)).toBe("ab…");
    expect(mrkdwnCut("abc&def", 6)).toBe("abc…");
    expect(mrkdwnCut("short", 10)).toBe("short");
  });
});

describe("partial imports", () => {
  it("shows an import that succeeded with failed APIs as a warning, not a success", () => {
    const result = parseTaskResult(
      JSON.stringify({ success: [{ id: "a", method: "GET", path: "/a", action: "create" }], failure: [{ method: "PUT", path: "/b", error_code: "APIG.3301", error_msg: "dup" }, { method: "PUT", path: "/c" }] }),
      "import_api",
    );
    const m = buildSlackMessage(view({ result }));
    expect(header(m.blocks)).toBe(":warning: Import partly succeeded: 2 APIs failed");
    expect(m.text).toMatch(/^Import partly succeeded: 2 APIs failed/);
    const clean = buildSlackMessage(view({ result: parseTaskResult(JSON.stringify({ success: [], failure: [] }), "import_api") }));
    expect(header(clean.blocks)).toBe(":white_check_mark: Import succeeded");
  });
});
