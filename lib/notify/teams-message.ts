/**
 * Formats a finished watch for a Microsoft Teams Workflows webhook ("when a
 * Teams webhook request is received"): an Adaptive Card 1.5, wrapped in a
 * message envelope or bare (`format: "card"`, which some workflow templates
 * expect; the wrong one fails with `InvalidBotAdaptiveCard`). Always within
 * Teams' 28 KB message limit.
 */
import type { WatchView } from "../domain/watch-view";
import { cutText, DETAIL, fitting, messageFacts, oneLine, summaryLine, type Tone } from "./message-facts";

/** Teams refuses messages over 28 KB; the whole posted body is held under it. */
export const TEAMS_MAX_BYTES = 28 * 1024;

type CardElement = Record<string, unknown>;

/** An Adaptive Card 1.5. */
export interface AdaptiveCard {
  type: "AdaptiveCard";
  $schema: string;
  version: "1.5";
  body: CardElement[];
  msteams: { width: "Full" };
  /** A large export's download link. */
  actions?: CardElement[];
}

/** The message envelope a Workflows webhook posts to a chat or channel. */
export interface TeamsEnvelope {
  type: "message";
  summary: string;
  attachments: Array<{ contentType: "application/vnd.microsoft.card.adaptive"; contentUrl: null; content: AdaptiveCard }>;
}

const COLOR: Record<Tone, string> = { good: "Good", warning: "Warning", bad: "Attention", neutral: "Default" };

/** Adaptive Card text is Markdown: keep list markers and emphasis in user text literal. */
function md(s: string): string {
  return s.replace(/([\\*_`[\]#>~|])/g, "\\$1");
}

const text = (t: string, more: CardElement = {}): CardElement => ({ type: "TextBlock", text: t, wrap: true, ...more });

/** The card for a watch (normally a terminal one), at the most detail that fits. */
export function buildTeamsCard(view: WatchView, opts: { now?: Date; format?: "message" | "card" } = {}): AdaptiveCard {
  const payload = buildTeamsPayload(view, opts);
  return "attachments" in payload ? payload.attachments[0]!.content : payload;
}

/**
 * What is posted to the workflow: the envelope, or with `format: "card"` the bare card.
 * @param opts.now dates a watch that has no `finished_at`
 */
export function buildTeamsPayload(view: WatchView, opts: { now?: Date; format?: "message" | "card" } = {}): TeamsEnvelope | AdaptiveCard {
  const f = messageFacts(view, opts.now);
  return fitting(TEAMS_MAX_BYTES, DETAIL.length, (level) => {
    const d = DETAIL[level]!;
    const body: CardElement[] = [
      text(md(cutText(f.title, 200)), { size: "Large", weight: "Bolder", color: COLOR[f.tone], style: "heading" }),
      { type: "FactSet", facts: f.fields.map((x) => ({ title: x.label, value: md(cutText(x.value, d.valueChars)) })) },
    ];
    if (f.failures !== null) {
      const listed = f.failures.lines.slice(0, d.failures);
      const more = f.failures.total - listed.length;
      body.push(text(`Failed APIs${more > 0 ? ` (first ${listed.length} of ${f.failures.total})` : ""}`, { weight: "Bolder", separator: true }));
      if (listed.length > 0) body.push(text(listed.map((l) => `- ${md(cutText(l, d.lineChars))}`).join("\n")));
      if (more > 0) body.push(text(`…and ${more} more`, { isSubtle: true }));
    }
    if (f.error !== null) body.push(text("Error", { weight: "Bolder", separator: true }), text(md(cutText(f.error, d.errorChars))));
    if (f.rawResult !== null) body.push(text("Result", { weight: "Bolder", separator: true }), text(md(cutText(f.rawResult, d.errorChars))));
    if (f.labels.length > 0) {
      const shown = f.labels.slice(0, d.labels);
      const facts = shown.map(([k, v]) => ({ title: md(cutText(oneLine(k), d.valueChars)), value: md(cutText(oneLine(v), d.valueChars)) }));
      if (f.labels.length > shown.length) facts.push({ title: "…", value: `and ${f.labels.length - shown.length} more labels` });
      body.push({ type: "FactSet", facts, separator: true });
    }
    body.push(text(f.footer, { isSubtle: true, size: "Small" }));
    const card: AdaptiveCard = {
      type: "AdaptiveCard",
      $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
      version: "1.5",
      body,
      msteams: { width: "Full" },
      ...(f.download !== null ? { actions: [{ type: "Action.OpenUrl", title: "Download the export", url: f.download.url }] } : {}),
    };
    if (opts.format === "card") return card;
    return {
      type: "message",
      summary: summaryLine(view, f, 300),
      attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card }],
    };
  });
}
