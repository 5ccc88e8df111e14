/**
 * Formats a finished watch for a Google Chat incoming webhook: a plain `text`
 * line plus a `cardsV2` card (header, the task's facts, failed APIs, error,
 * labels), always within Chat's 32,000-byte message limit.
 */
import type { WatchView } from "../domain/watch-view";
import { cutText, DETAIL, fitting, messageFacts, oneLine, summaryLine } from "./message-facts";

/** Google Chat refuses a message over 32,000 bytes. */
export const GOOGLE_CHAT_MAX_BYTES = 32_000;

type Widget = Record<string, unknown>;

/** A Chat webhook message. */
export interface GoogleChatMessage {
  text: string;
  cardsV2: Array<{
    cardId: string;
    card: { header: { title: string; subtitle: string }; sections: Array<{ header?: string; widgets: Widget[] }> };
  }>;
}

/** Card text takes Chat's small HTML subset: only `&`, `<` and `>` need escaping. */
function html(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The Chat message for a watch (normally a terminal one), at the most detail that fits.
 * @param opts.now dates a watch that has no `finished_at`
 */
export function buildGoogleChatMessage(view: WatchView, opts: { now?: Date } = {}): GoogleChatMessage {
  const f = messageFacts(view, opts.now);
  return fitting(GOOGLE_CHAT_MAX_BYTES, DETAIL.length, (level) => {
    const d = DETAIL[level]!;
    const sections: GoogleChatMessage["cardsV2"][number]["card"]["sections"] = [
      { widgets: f.fields.map((x) => ({ decoratedText: { topLabel: x.label, text: html(cutText(x.value, d.valueChars)), wrapText: true } })) },
    ];
    if (f.failures !== null) {
      const listed = f.failures.lines.slice(0, d.failures);
      const more = f.failures.total - listed.length;
      const lines = listed.map((l) => `• ${html(cutText(l, d.lineChars))}`);
      if (more > 0) lines.push(`…and ${more} more`);
      sections.push({
        header: `Failed APIs${more > 0 ? ` (first ${listed.length} of ${f.failures.total})` : ""}`,
        widgets: [{ textParagraph: { text: lines.join("<br>") || "(none listed)" } }],
      });
    }
    if (f.error !== null) sections.push({ header: "Error", widgets: [{ textParagraph: { text: html(cutText(f.error, d.errorChars)) } }] });
    if (f.rawResult !== null) sections.push({ header: "Result", widgets: [{ textParagraph: { text: html(cutText(f.rawResult, d.errorChars)) } }] });
    if (f.labels.length > 0) {
      const shown = f.labels.slice(0, d.labels);
      const lines = shown.map(([k, v]) => `${html(cutText(oneLine(k), d.valueChars))}: ${html(cutText(oneLine(v), d.valueChars))}`);
      if (f.labels.length > shown.length) lines.push(`…and ${f.labels.length - shown.length} more labels`);
      sections.push({ header: "Labels", widgets: [{ textParagraph: { text: lines.join("<br>") } }] });
    }
    if (f.download !== null) {
      sections.push({ widgets: [{ buttonList: { buttons: [{ text: "Download the export", onClick: { openLink: { url: f.download.url } } }] } }] });
    }
    sections.push({ widgets: [{ textParagraph: { text: html(f.footer) } }] });
    return {
      text: summaryLine(view, f, 1000),
      cardsV2: [
        {
          cardId: "apig-taskwatch",
          card: { header: { title: cutText(f.title, 200), subtitle: cutText(`task ${oneLine(view.task_id)}`, 200) }, sections },
        },
      ],
    };
  });
}
