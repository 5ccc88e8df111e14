/**
 * Formats a finished watch as a Slack incoming-webhook message: Block Kit
 * blocks plus a plain `text` fallback, always inside Slack's limits whatever
 * APIG or the user put into the watch.
 */
import type { TaskResult } from "../domain/task-result";
import type { WatchView } from "../domain/watch-view";
import { byteCount, errorLine, exportLink, failureLine, humanDuration, type ImportCounts, importCounts, oneLine, outcomeTitle, taskTypeName } from "./message-facts";

export { humanDuration };

/** A Block Kit text object. */
export type SlackText = { type: "plain_text"; text: string; emoji?: boolean } | { type: "mrkdwn"; text: string };

/** The blocks this module produces. */
export type SlackBlock =
  | { type: "header"; text: { type: "plain_text"; text: string; emoji?: boolean } }
  | { type: "section"; text: SlackText; fields?: undefined }
  | { type: "section"; fields: SlackText[]; text?: undefined }
  | { type: "context"; elements: SlackText[] }
  | { type: "divider" };

/** An incoming-webhook payload. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/** Slack's documented limits (Block Kit reference). */
export const SLACK_LIMITS = {
  blocks: 50,
  headerChars: 150,
  sectionTextChars: 3000,
  fields: 10,
  fieldChars: 2000,
  contextElements: 10,
  /** Slack truncates `text` much later; we keep the fallback short enough to read. */
  fallbackChars: 3000,
} as const;

const MAX_LISTED_FAILURES = 10;
/** Per value in a field: long enough for any id, short enough to keep the card readable. */
const FIELD_VALUE_CHARS = 300;
const LABEL_CHARS = 200;
const ERROR_CHARS = 1500;
const ELLIPSIS = "…";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Slack reads `&`, `<` and `>` as markup (`<!channel>`, links); nothing else needs escaping. */
function escapeChar(c: string): string {
  return c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : c;
}

/**
 * Escape for mrkdwn and cut to at most `max` characters (UTF-16 units, what
 * Slack counts), ending in "…" when cut. Cuts between grapheme clusters, so
 * never inside a surrogate pair, an emoji sequence or an `&amp;` entity.
 */
export function mrkdwnCut(raw: string, max: number): string {
  return cutSegments(raw, max, true);
}

/** Like `mrkdwnCut` without escaping, for plain_text. */
export function plainCut(raw: string, max: number): string {
  return cutSegments(raw, max, false);
}

function cutSegments(raw: string, max: number, escape: boolean): string {
  const full = escape ? raw.replace(/[&<>]/g, escapeChar) : raw;
  if (full.length <= max) return full;
  const budget = max - ELLIPSIS.length;
  let out = "";
  for (const { segment } of segmenter.segment(raw)) {
    const piece = escape ? segment.replace(/[&<>]/g, escapeChar) : segment;
    if (out.length + piece.length > budget) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

const EMOJI: Record<string, string> = {
  succeed: ":white_check_mark:",
  failed: ":x:",
  timed_out: ":hourglass:",
  not_found: ":grey_question:",
  error: ":warning:",
  cancelled: ":no_entry_sign:",
};

function outcome(view: WatchView): { emoji: string; title: string } {
  const { title } = outcomeTitle(view);
  const emoji = view.outcome === "partial" ? ":warning:" : (EMOJI[view.status] ?? ":hourglass_flowing_sand:");
  return { emoji, title };
}

function field(label: string, value: string): SlackText {
  return { type: "mrkdwn", text: `*${label}*\n${mrkdwnCut(value, FIELD_VALUE_CHARS)}` };
}

function failuresBlock(r: Extract<TaskResult, { kind: "import" }>): SlackBlock | null {
  if (r.failure_count === 0 && r.failure.length === 0) return null;
  const listed = r.failure.slice(0, MAX_LISTED_FAILURES);
  const more = Math.max(0, r.failure_count - listed.length);
  const title = `*Failed APIs${more > 0 ? ` (first ${listed.length} of ${r.failure_count})` : ""}*`;
  const tail = more > 0 ? `\n…and ${more} more` : "";
  // Share the section's 3000 characters fairly so all ten entries always show.
  const perLine = Math.floor(
    (SLACK_LIMITS.sectionTextChars - title.length - tail.length - listed.length * 3) / Math.max(1, listed.length),
  );
  const lines = listed.map((f) => `• ${mrkdwnCut(failureLine(f), perLine)}`);
  return section([title, ...lines].join("\n") + tail);
}

function section(text: string): SlackBlock {
  // Callers budget their text; the cut here only guards the limit.
  return { type: "section", text: { type: "mrkdwn", text: text.length > SLACK_LIMITS.sectionTextChars ? mrkdwnSafeTrim(text) : text } };
}

/** Trim already-escaped text without breaking an entity. */
function mrkdwnSafeTrim(text: string): string {
  let cut = text.slice(0, SLACK_LIMITS.sectionTextChars - ELLIPSIS.length);
  const amp = cut.lastIndexOf("&");
  if (amp !== -1 && !cut.slice(amp).includes(";")) cut = cut.slice(0, amp);
  // Do not end on a lone high surrogate.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + ELLIPSIS;
}

function labelsBlock(labels: Record<string, string>): SlackBlock | null {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return null;
  const room = SLACK_LIMITS.contextElements;
  const shown = entries.length > room ? entries.slice(0, room - 1) : entries;
  const elements: SlackText[] = shown.map(([k, v]) => ({
    type: "mrkdwn",
    text: mrkdwnCut(`${oneLine(k)}: ${oneLine(v)}`, LABEL_CHARS),
  }));
  if (entries.length > shown.length) elements.push({ type: "mrkdwn", text: `…and ${entries.length - shown.length} more labels` });
  return { type: "context", elements };
}

/**
 * The Slack message for a watch (normally a terminal one): a header with the
 * outcome, the task's facts as fields, import counts and the first failures
 * or the export file, the error if any, and the labels as context.
 *
 * @param view the watch as the API shows it
 * @param opts.now used for the duration of a watch that has no `finished_at`
 */
export function buildSlackMessage(view: WatchView, opts: { now?: Date } = {}): SlackMessage {
  const { emoji, title } = outcome(view);
  const end = view.finished_at !== null ? Date.parse(view.finished_at) : (opts.now ?? new Date()).getTime();
  const duration = humanDuration(end - Date.parse(view.created_at));
  const result = view.result;

  const fields: SlackText[] = [
    field("Task type", taskTypeName(view.task_type)),
    field("Task id", view.task_id),
    field("Gateway", view.instance_id),
    field("Project", view.project_id),
    field("Region", view.region),
    field(view.finished_at !== null ? "Duration" : "Running for", duration),
  ];
  let counts: ImportCounts | null = null;
  if (result?.kind === "import") {
    counts = importCounts(result);
    fields.push(
      field("Created", counts.created),
      field("Updated", counts.updated),
      field("Failed", String(counts.failed)),
      field("Ignored", String(counts.ignored)),
    );
  } else if (result?.kind === "export") {
    fields.push(field("File", result.file_name ?? "(unnamed)"), field("File type", result.file_type ?? "unknown"));
  }

  const blocks: SlackBlock[] = [
    { type: "header", text: { type: "plain_text", text: plainCut(`${emoji} ${title}`, SLACK_LIMITS.headerChars), emoji: true } },
    { type: "section", fields: fields.slice(0, SLACK_LIMITS.fields) },
  ];

  if (result?.kind === "import") {
    const fb = failuresBlock(result);
    if (fb !== null) blocks.push(fb);
  }
  const link = exportLink(view);
  if (link !== null) {
    // The document itself is too large for a message: its link (escaped for mrkdwn, never cut), size and hash.
    const url = link.url.replace(/[&<>]/g, escapeChar).replace(/\|/g, "%7C");
    blocks.push(section(`*Export*\n<${url}|Download the export> · ${byteCount(link.size_bytes)}\nSHA-256 \`${link.sha256}\``));
  }
  const error = errorLine(view);
  if (error !== null) blocks.push(section(`*Error*\n${mrkdwnCut(error, ERROR_CHARS)}`));
  if (result?.kind === "raw" && view.status !== "failed") {
    blocks.push(section(`*Result*\n${mrkdwnCut(result.raw, ERROR_CHARS)}`));
  }
  const labels = labelsBlock(view.labels);
  if (labels !== null) blocks.push(labels);
  blocks.push({
    type: "context",
    elements: [{ type: "mrkdwn", text: mrkdwnCut(`Registered ${view.created_at} · finished ${view.finished_at ?? "not yet"}`, 300) }],
  });

  return { text: fallbackText(view, title, counts, error), blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}

/** One plain line for notifications and clients without Block Kit. Escaped too: Slack parses `text` as mrkdwn. */
function fallbackText(view: WatchView, title: string, counts: ImportCounts | null, error: string | null): string {
  const parts = [`${title}: task ${plainCut(oneLine(view.task_id), 200)}`];
  if (counts !== null) {
    parts.push(`${counts.created} created, ${counts.updated} updated, ${counts.failed} failed, ${counts.ignored} ignored`);
  }
  if (view.result?.kind === "export") {
    parts.push(`file ${plainCut(oneLine(view.result.file_name ?? "(unnamed)"), 500)}${view.result.file_type ?? ""}`);
  }
  if (error !== null) parts.push(`error ${oneLine(error)}`);
  return mrkdwnCut(parts.join(" — "), SLACK_LIMITS.fallbackChars);
}
