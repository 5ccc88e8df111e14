/**
 * What every chat message about a finished watch says, channel-neutral and
 * unescaped: the outcome, the task's facts, import counts, the failed APIs,
 * the error and the labels. Each channel's builder (Slack, Teams, Google
 * Chat, Mattermost, PagerDuty) renders these and fits them to its own limits.
 */
import type { TaskResult } from "../domain/task-result";
import type { Outcome, WatchStatus } from "../domain/watch";
import type { WatchView } from "../domain/watch-view";

const ELLIPSIS = "…";
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Cut to at most `max` UTF-16 units, ending in "…" when cut, between grapheme
 * clusters (never inside a surrogate pair or an emoji sequence).
 */
export function cutText(raw: string, max: number): string {
  if (raw.length <= max) return raw;
  const budget = Math.max(0, max - ELLIPSIS.length);
  let out = "";
  // Segment only a prefix: ICU's cost grows with the whole text, and nothing
  // past `max` is kept (a cluster cut at the prefix's end ends past the budget).
  for (const { segment } of segmenter.segment(raw.slice(0, max + 32))) {
    if (out.length + segment.length > budget) break;
    out += segment;
  }
  return out + ELLIPSIS;
}

/** Whitespace runs (including newlines APIG puts into messages) as one space, for one-line list entries. */
export function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** `3m 12s`, `1h 5m`, `2d 3h`, `45s`; two units at most. */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "unknown";
  const s = Math.round(ms / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return sec > 0 ? `${m}m ${sec}s` : `${m}m`;
  return `${sec}s`;
}

/** How a message should look: good, a warning, bad, or neither (cancelled, still running). */
export type Tone = "good" | "warning" | "bad" | "neutral";

/** The headline of a watch's message and its tone. */
export function outcomeTitle(view: WatchView): { title: string; tone: Tone } {
  const { status, task_type: taskType } = view;
  const noun = taskType === "import_api" ? "Import" : taskType === "export_api" ? "Export" : "Task";
  // APIG says `succeed`, but some APIs were not imported: a warning, never a success.
  if (view.outcome === "partial") {
    const r = view.result;
    const failed = r?.kind === "import" ? r.failure_count : 0;
    return { tone: "warning", title: `${noun} partly succeeded: ${failed} API${failed === 1 ? "" : "s"} failed` };
  }
  switch (status as WatchStatus) {
    case "succeed":
      return { tone: "good", title: `${noun} succeeded` };
    case "failed":
      return { tone: "bad", title: `${noun} failed` };
    case "timed_out":
      return { tone: "bad", title: "Task timed out" };
    case "not_found":
      return { tone: "bad", title: "Task not found" };
    case "error":
      return { tone: "bad", title: "Task could not be watched" };
    case "cancelled":
      return { tone: "neutral", title: "Watch cancelled" };
    default:
      // Not sent for a running task, but a message must still say something true.
      return { tone: "neutral", title: `Task ${status}` };
  }
}

export function taskTypeName(t: WatchView["task_type"]): string {
  return t === "import_api" ? "Import (import_api)" : t === "export_api" ? "Export (export_api)" : "unknown";
}

export interface ImportCounts {
  created: string;
  updated: string;
  failed: number;
  ignored: number;
}

export function importCounts(r: Extract<TaskResult, { kind: "import" }>): ImportCounts {
  let created = 0;
  let updated = 0;
  for (const s of r.success) {
    const action = (s.action ?? "").toLowerCase();
    if (action === "create") created++;
    else if (action === "update") updated++;
  }
  // Only the first MAX_LISTED successes are stored; beyond that the split is a lower bound.
  const partial = r.success.length < r.success_count;
  return {
    created: partial ? `≥ ${created}` : String(created),
    updated: partial ? `≥ ${updated}` : String(updated),
    failed: r.failure_count,
    ignored: r.ignore_count,
  };
}

/** The APIG or watch error to show, if any, as `code: message` (raw, unescaped). */
export function errorLine(view: WatchView): string | null {
  const r = view.result;
  if (r?.kind === "failure" && (r.error_code !== undefined || r.error_msg !== undefined)) {
    return [r.error_code, r.error_msg].filter((x) => x !== undefined && x !== "").join(": ");
  }
  if (view.status === "failed" && r?.kind === "raw") return r.raw;
  const e = view.last_error;
  if (e !== null && view.status !== "succeed") {
    return `${e.code}${e.http_status !== null ? ` (HTTP ${e.http_status})` : ""}: ${e.message}`;
  }
  if (view.status === "timed_out") {
    const lastRunning = [...view.history].reverse().find((h) => h.status === "waiting" || h.status === "processing");
    return `The deadline ${view.deadline_at} passed while the task was ${lastRunning?.status ?? "not yet seen by APIG"}.`;
  }
  return null;
}

/** One failed API as one line: `POST /users: APIG.3301 reason`. */
export function failureLine(f: { method?: string; path?: string; error_code?: string; error_msg?: string }): string {
  const where = [f.method, f.path].filter((x) => x !== undefined && x !== "").join(" ") || "(no path)";
  const why = [f.error_code, f.error_msg].filter((x) => x !== undefined && x !== "").join(" ");
  return oneLine(why === "" ? where : `${where}: ${why}`);
}

/**
 * No message shows more than a few thousand characters of one text, and a
 * stored one may hold 64 KiB: cut early so building stays cheap. The
 * builders cut again, between graphemes, well inside this.
 */
const TEXT_BOUND = 4000;
function bound<T extends string | null>(s: T): T {
  return (s !== null && s.length > TEXT_BOUND ? s.slice(0, TEXT_BOUND) : s) as T;
}
function bounded<T extends Record<string, string | undefined>>(f: T): T {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(f)) out[k] = v === undefined ? v : bound(v);
  return out as T;
}

/** Where a large export's document is, instead of the document: the link, its size and SHA-256. */
export interface ExportLink {
  url: string;
  size_bytes: number;
  sha256: string;
}

/** The link a message carries for an export over 20 KB (the view says `download_url`), or null. */
export function exportLink(view: WatchView): ExportLink | null {
  const r = view.result;
  if (r?.kind !== "export" || r.download_url === undefined) return null;
  return { url: r.download_url, size_bytes: r.size_bytes ?? 0, sha256: r.sha256 ?? "" };
}

/** `132,415 bytes`. */
export function byteCount(n: number): string {
  return `${n.toLocaleString("en-US")} byte${n === 1 ? "" : "s"}`;
}

/** Everything a chat message carries, raw (each channel escapes and cuts). */
export interface MessageFacts {
  outcome: Outcome | null;
  title: string;
  tone: Tone;
  /** Label and value, in the order shown: task type, id, gateway, project, region, duration, then counts or the export file. */
  fields: Array<{ label: string; value: string }>;
  counts: ImportCounts | null;
  /** The stored failed APIs, one line each (the builder lists the first few), and how many failed in all. */
  failures: { lines: string[]; total: number } | null;
  error: string | null;
  /** A result APIG sent in no known shape, for a task that did not fail. */
  rawResult: string | null;
  /** Sorted by name. */
  labels: Array<[string, string]>;
  /** `Registered ... · finished ...`. */
  footer: string;
  /** A large export: rendered as a link, never cut (its size and SHA-256 are also in `fields`). */
  download: ExportLink | null;
}

/** The facts of a watch's message; `now` dates a watch that has no `finished_at`. */
export function messageFacts(view: WatchView, now: Date = new Date()): MessageFacts {
  const { title, tone } = outcomeTitle(view);
  const end = view.finished_at !== null ? Date.parse(view.finished_at) : now.getTime();
  const duration = humanDuration(end - Date.parse(view.created_at));
  const result = view.result;
  const fields = [
    { label: "Task type", value: taskTypeName(view.task_type) },
    { label: "Task id", value: view.task_id },
    { label: "Gateway", value: view.instance_id },
    { label: "Project", value: view.project_id },
    { label: "Region", value: view.region },
    { label: view.finished_at !== null ? "Duration" : "Running for", value: duration },
  ];
  let counts: ImportCounts | null = null;
  let failures: MessageFacts["failures"] = null;
  if (result?.kind === "import") {
    counts = importCounts(result);
    fields.push(
      { label: "Created", value: counts.created },
      { label: "Updated", value: counts.updated },
      { label: "Failed", value: String(counts.failed) },
      { label: "Ignored", value: String(counts.ignored) },
    );
    if (result.failure_count > 0 || result.failure.length > 0) {
      failures = { lines: result.failure.map((x) => failureLine(bounded(x))), total: Math.max(result.failure_count, result.failure.length) };
    }
  } else if (result?.kind === "export") {
    fields.push({ label: "File", value: result.file_name ?? "(unnamed)" }, { label: "File type", value: result.file_type ?? "unknown" });
    const link = exportLink(view);
    if (link !== null) fields.push({ label: "Size", value: byteCount(link.size_bytes) }, { label: "SHA-256", value: link.sha256 });
  }
  const labels = Object.entries(view.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    outcome: view.outcome,
    title,
    tone,
    fields,
    counts,
    failures,
    error: bound(errorLine(view)),
    rawResult: result?.kind === "raw" && view.status !== "failed" ? bound(result.raw) : null,
    labels,
    footer: `Registered ${view.created_at} · finished ${view.finished_at ?? "not yet"}`,
    download: exportLink(view),
  };
}

/** One plain line: the title, the task, the counts or the file, the error. */
export function summaryLine(view: WatchView, f: MessageFacts, max: number): string {
  const parts = [`${f.title}: task ${cutText(oneLine(view.task_id), 200)}`];
  if (f.counts !== null) {
    parts.push(`${f.counts.created} created, ${f.counts.updated} updated, ${f.counts.failed} failed, ${f.counts.ignored} ignored`);
  }
  if (view.result?.kind === "export") {
    parts.push(`file ${cutText(oneLine(view.result.file_name ?? "(unnamed)"), 500)}${view.result.file_type ?? ""}`);
  }
  if (f.error !== null) parts.push(`error ${oneLine(f.error)}`);
  return cutText(parts.join(" — "), max);
}

/** UTF-8 size of a payload as sent. */
export function jsonBytes(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload), "utf8");
}

/**
 * Build a payload at decreasing levels of detail until it fits in `maxBytes`:
 * `build(level)` for level 0, 1, 2, ... (each shorter than the one before);
 * the last level must fit whatever the watch holds.
 */
export function fitting<T>(maxBytes: number, levels: number, build: (level: number) => T): T {
  for (let level = 0; level < levels - 1; level++) {
    const p = build(level);
    if (jsonBytes(p) <= maxBytes) return p;
  }
  return build(levels - 1);
}

/** Detail levels the builders step through: failures listed, characters per failure line, per error, per field value. */
export const DETAIL = [
  { failures: 10, lineChars: 500, errorChars: 1500, valueChars: 300, labels: 20 },
  { failures: 10, lineChars: 200, errorChars: 600, valueChars: 200, labels: 10 },
  { failures: 5, lineChars: 120, errorChars: 300, valueChars: 120, labels: 5 },
  { failures: 3, lineChars: 80, errorChars: 200, valueChars: 80, labels: 3 },
] as const;
