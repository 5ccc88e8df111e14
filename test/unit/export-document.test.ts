/**
 * Exports of any size: the document packed into gzip chunks and checked
 * whole on the way back (never a wrong document), what the watch keeps of
 * it, and what every channel's message carries above 20 KB: the link, the
 * size and the SHA-256, not the document.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  EXPORT_CHUNK_BYTES,
  EXPORT_PREVIEW_CHARS,
  exportContentType,
  MAX_SERVED_GZIP_BYTES,
  notifiedExportResult,
  NOTIFY_INLINE_MAX_BYTES,
  packExport,
  storedExportResult,
  unpackExport,
} from "../../lib/domain/export-document";
import { exportDocumentOf, MAX_TEXT_CHARS, parseTaskResult, type TaskResult } from "../../lib/domain/task-result";
import type { WatchView } from "../../lib/domain/watch-view";
import { buildEventBridgeEntry } from "../../lib/notify/eventbridge-event";
import { buildGoogleChatMessage } from "../../lib/notify/google-chat-message";
import { buildMattermostMessage } from "../../lib/notify/mattermost-message";
import { buildPagerDutyEvent } from "../../lib/notify/pagerduty-event";
import { buildSlackMessage } from "../../lib/notify/slack-message";
import { buildTeamsPayload } from "../../lib/notify/teams-message";
import { buildWebhookBody } from "../../lib/notify/webhook-signature";

/** An exported OpenAPI document of `n` operations, as the simulator writes one (about 130 bytes an operation). */
function document(n: number): string {
  const paths: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) paths[`/v1/resources/${i}/items`] = { get: { operationId: `op${i}`, responses: { default: { description: "default response" } } } };
  return JSON.stringify({ swagger: "2.0", info: { title: "big", version: "1" }, paths }, null, "\t");
}
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
type ExportResult = Extract<TaskResult, { kind: "export" }>;

describe("packing and unpacking a document", () => {
  const doc = document(2_000);

  it("round-trips through chunks in any order, with the document's size and SHA-256", () => {
    const p = packExport(doc, 4096);
    expect(p.chunks.length).toBeGreaterThan(2);
    expect(p.size_bytes).toBe(Buffer.byteLength(doc));
    expect(p.sha256).toBe(sha(doc));
    const parts = p.chunks.map((data, index) => ({ index, data })).reverse();
    const u = unpackExport(parts, { chunks: p.chunks.length, sha256: p.sha256, size_bytes: p.size_bytes });
    expect(u.ok && u.document.toString("utf8")).toBe(doc);
    expect(u.ok && u.gzip.length).toBe(p.gzip_bytes);
  });

  it("is deterministic, so storing the same document twice writes the same chunks", () => {
    expect(packExport(doc).chunks).toEqual(packExport(doc).chunks);
  });

  it("keeps every chunk well under DynamoDB's 400 KB item", () => {
    // Random text hardly compresses: the worst case for chunk size.
    const noise = Array.from({ length: 30_000 }, (_, i) => createHash("sha256").update(String(i)).digest("base64")).join("");
    const p = packExport(noise);
    expect(p.chunks.length).toBeGreaterThan(1);
    for (const c of p.chunks) expect(c.length).toBeLessThanOrEqual(EXPORT_CHUNK_BYTES);
    expect(EXPORT_CHUNK_BYTES + 1024).toBeLessThan(400 * 1000);
  });

  it("refuses a missing chunk, a damaged one and a wrong hash: never a wrong document", () => {
    const p = packExport(doc, 4096);
    const facts = { chunks: p.chunks.length, sha256: p.sha256, size_bytes: p.size_bytes };
    const parts = p.chunks.map((data, index) => ({ index, data }));
    expect(unpackExport(parts.slice(1), facts)).toEqual({ ok: false, problem: `1 of ${p.chunks.length} chunks missing` });
    const flipped = parts.map((x) => (x.index === 1 ? { index: 1, data: Buffer.from(x.data).fill(0x41, 10, 20) } : x));
    expect(unpackExport(flipped, facts).ok).toBe(false);
    expect(unpackExport(parts, { ...facts, sha256: sha("another") })).toEqual({ ok: false, problem: "the stored document does not match its SHA-256" });
    expect(unpackExport(parts, { ...facts, size_bytes: facts.size_bytes - 1 }).ok).toBe(false);
  });

  it("serves at most what base64 of Lambda's 6 MB response holds", () => {
    expect(Math.ceil(MAX_SERVED_GZIP_BYTES / 3) * 4 + 8 * 1024).toBeLessThanOrEqual(6 * 1024 * 1024);
    expect(MAX_SERVED_GZIP_BYTES).toBeGreaterThan(4.4 * 1024 * 1024);
  });

  it("names the content type by APIG's file type", () => {
    expect(exportContentType(".json")).toBe("application/json");
    expect(exportContentType("yaml")).toBe("application/yaml");
    expect(exportContentType(undefined)).toBe("application/octet-stream");
  });
});

describe("what the watch keeps", () => {
  const doc = document(1_000);
  const raw = JSON.stringify({ FileName: "grp-RELEASE", FileType: ".json", Comment: doc });

  it("the uncut document comes from APIG's answer; the parsed result keeps 64 KiB", () => {
    expect(doc.length).toBeGreaterThan(MAX_TEXT_CHARS);
    expect(exportDocumentOf(raw, "export_api")).toBe(doc);
    expect(exportDocumentOf(JSON.stringify({ file_type: "json", content: "{}" }), "export_api")).toBe("{}");
    expect(exportDocumentOf(JSON.stringify({ success: [] }), "import_api")).toBeNull();
  });

  it("facts and a short preview, not the document", () => {
    const parsed = parseTaskResult(raw, "export_api") as ExportResult;
    const stored = storedExportResult(parsed, doc, packExport(doc));
    expect(stored).toMatchObject({ kind: "export", file_name: "grp-RELEASE", file_type: ".json", content_chars: doc.length, truncated: true, size_bytes: Buffer.byteLength(doc), sha256: sha(doc), chunks: 1 });
    expect(stored.content).toBe(doc.slice(0, EXPORT_PREVIEW_CHARS));
    expect(JSON.stringify(stored).length).toBeLessThan(1024);
  });

  it("never ends the preview inside a surrogate pair", () => {
    const emoji = "x" + "😀".repeat(EXPORT_PREVIEW_CHARS);
    const stored = storedExportResult({ kind: "export", content_chars: 0, truncated: false }, emoji, packExport(emoji));
    expect(stored.content!.length).toBe(EXPORT_PREVIEW_CHARS - 1);
    expect(/[\uD800-\uDBFF]$/.test(stored.content!)).toBe(false);
  });
});

/** A finished export watch as notifications see it. */
function exportView(result: ExportResult): WatchView {
  const at = "2026-12-03T10:03:00.000Z";
  return {
    task_id: "exp-1",
    project_id: "p",
    instance_id: "g",
    region: "eu-de",
    status: "succeed",
    outcome: "succeeded",
    task_type: "export_api",
    created_at: "2026-12-03T10:00:00.000Z",
    updated_at: at,
    finished_at: at,
    deadline_at: "2026-12-04T10:00:00.000Z",
    history: [{ status: "succeed", at }],
    result,
    last_error: null,
    labels: {},
    notify: [],
  };
}

describe("notifications above and below 20 KB", () => {
  const big = document(1_000);
  const small = document(20);
  const stored = (doc: string) => storedExportResult({ kind: "export", file_name: "grp", file_type: ".json", content_chars: 0, truncated: false }, doc, packExport(doc));
  const URL_BASE = "https://api.example.com/";

  it("below: the whole document, as before; above: the link, not the document", () => {
    expect(Buffer.byteLength(small)).toBeLessThanOrEqual(NOTIFY_INLINE_MAX_BYTES);
    const inline = notifiedExportResult(stored(small), "exp-1", URL_BASE, small);
    expect(inline).toMatchObject({ content: small, truncated: false });
    expect(inline.download_url).toBeUndefined();
    const linked = notifiedExportResult(stored(big), "exp-1", URL_BASE, null);
    expect(linked.download_url).toBe("https://api.example.com/tasks/exp-1/export");
    expect(linked.content!.length).toBe(EXPORT_PREVIEW_CHARS);
    // A small one that could not be read is linked too; a result stored before exports were kept is as it was.
    expect(notifiedExportResult(stored(small), "exp-1", null, null).download_url).toBe("/tasks/exp-1/export");
    const old: ExportResult = { kind: "export", content: "{}", content_chars: 2, truncated: false };
    expect(notifiedExportResult(old, "exp-1", URL_BASE, null)).toBe(old);
  });

  const linked = exportView(notifiedExportResult(stored(big), "exp-1", URL_BASE, null));
  const link = "https://api.example.com/tasks/exp-1/export";
  const size = Buffer.byteLength(big);
  const hash = sha(big);
  const now = new Date("2026-12-03T10:04:00.000Z");
  const carries = (payload: unknown, opts: { sizeText?: boolean } = {}) => {
    const text = JSON.stringify(payload);
    expect(text).toContain(link);
    expect(text).toContain(hash);
    if (opts.sizeText !== false) expect(text).toContain(size.toLocaleString("en-US"));
    // Not the document: nothing past the preview.
    expect(text).not.toContain("/v1/resources/999/items");
    expect(text.length).toBeLessThan(20_000);
  };

  it("Slack: a link section with the size and SHA-256", () => {
    const m = buildSlackMessage(linked, { now });
    carries(m);
    expect(JSON.stringify(m.blocks)).toContain(`<${link}|Download the export>`);
  });
  it("Teams: an OpenUrl action and the size and SHA-256 as facts", () => {
    const card = buildTeamsPayload(linked, { now, format: "card" });
    carries(card);
    expect("actions" in card && card.actions).toEqual([{ type: "Action.OpenUrl", title: "Download the export", url: link }]);
  });
  it("Google Chat: a button opening the link", () => {
    const m = buildGoogleChatMessage(linked, { now });
    carries(m);
    expect(JSON.stringify(m)).toContain(`"openLink":{"url":"${link}"}`);
  });
  it("Mattermost: a Markdown link with the size and SHA-256", () => {
    const m = buildMattermostMessage(linked, { now });
    carries(m);
    expect(m.attachments[0]!.text).toContain(`[download](${link})`);
  });
  it("PagerDuty: the event's links and the size and SHA-256 in custom_details", () => {
    const e = buildPagerDutyEvent({ routing_key: "r".repeat(32) }, { ...linked, outcome: "failed", status: "failed" }, "msg_1", { now });
    carries(e);
    expect(e && "links" in e && e.links).toEqual([{ href: link, text: "Download the export" }]);
  });
  it("webhook and EventBridge: data.result names the URL, size and SHA-256", () => {
    const body = JSON.parse(buildWebhookBody(linked, now));
    expect(body.data.result).toMatchObject({ download_url: link, size_bytes: size, sha256: hash, truncated: true });
    carries(body, { sizeText: false });
    const entry = buildEventBridgeEntry(linked, "task.succeeded", now);
    expect(JSON.parse(entry.Detail).data.result).toMatchObject({ download_url: link, size_bytes: size, sha256: hash });
  });
  it("below 20 KB no channel carries a link", () => {
    const inline = exportView(notifiedExportResult(stored(small), "exp-1", URL_BASE, small));
    for (const p of [buildSlackMessage(inline, { now }), buildTeamsPayload(inline, { now }), buildGoogleChatMessage(inline, { now }), buildMattermostMessage(inline, { now })]) {
      expect(JSON.stringify(p)).not.toContain("/export");
    }
    expect(JSON.parse(buildWebhookBody(inline, now)).data.result.content).toBe(small);
  });
});
