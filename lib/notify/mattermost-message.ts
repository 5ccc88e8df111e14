/**
 * Formats a finished watch for a Mattermost incoming webhook: its
 * Slack-compatible `text` plus one message attachment (Mattermost renders no
 * Block Kit), always within Mattermost's 16,383-character post limit.
 */
import type { WatchView } from "../domain/watch-view";
import { byteCount, cutText, DETAIL, fitting, messageFacts, oneLine, summaryLine, type Tone } from "./message-facts";

/** Mattermost's post limit is 16,383 characters; the whole payload is held under it, in bytes. */
export const MATTERMOST_MAX_BYTES = 16_383;

/** A Mattermost incoming-webhook payload. */
export interface MattermostMessage {
  text: string;
  attachments: Array<{
    fallback: string;
    color: string;
    title: string;
    text: string;
    fields: Array<{ short: boolean; title: string; value: string }>;
    footer: string;
  }>;
}

const COLOR: Record<Tone, string> = { good: "#2eb67d", warning: "#ecb22e", bad: "#e01e5a", neutral: "#8d8d8d" };

/** Attachment text is Markdown: keep user text literal. */
function md(s: string): string {
  return s.replace(/([\\*_`[\]#>~|<])/g, "\\$1");
}

/**
 * The Mattermost message for a watch (normally a terminal one), at the most detail that fits.
 * @param opts.now dates a watch that has no `finished_at`
 */
export function buildMattermostMessage(view: WatchView, opts: { now?: Date } = {}): MattermostMessage {
  const f = messageFacts(view, opts.now);
  return fitting(MATTERMOST_MAX_BYTES, DETAIL.length, (level) => {
    const d = DETAIL[level]!;
    const parts: string[] = [];
    if (f.failures !== null) {
      const listed = f.failures.lines.slice(0, d.failures);
      const more = f.failures.total - listed.length;
      parts.push(`**Failed APIs${more > 0 ? ` (first ${listed.length} of ${f.failures.total})` : ""}**`);
      parts.push(...listed.map((l) => `- ${md(cutText(l, d.lineChars))}`));
      if (more > 0) parts.push(`…and ${more} more`);
    }
    if (f.error !== null) parts.push("**Error**", md(cutText(f.error, d.errorChars)));
    if (f.rawResult !== null) parts.push("**Result**", md(cutText(f.rawResult, d.errorChars)));
    if (f.download !== null) parts.push(`**Export**: [download](${f.download.url}) (${byteCount(f.download.size_bytes)}, SHA-256 ${f.download.sha256})`);
    const fields = f.fields.map((x) => ({ short: true, title: x.label, value: md(cutText(x.value, d.valueChars)) }));
    const shown = f.labels.slice(0, d.labels);
    for (const [k, v] of shown) fields.push({ short: true, title: md(cutText(oneLine(k), d.valueChars)), value: md(cutText(oneLine(v), d.valueChars)) });
    if (f.labels.length > shown.length) fields.push({ short: true, title: "…", value: `and ${f.labels.length - shown.length} more labels` });
    const summary = summaryLine(view, f, 1000);
    return {
      text: md(summary),
      attachments: [{ fallback: summary, color: COLOR[f.tone], title: cutText(f.title, 200), text: parts.join("\n"), fields, footer: f.footer }],
    };
  });
}
