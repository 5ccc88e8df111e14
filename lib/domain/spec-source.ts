/**
 * An OpenAPI / Swagger document read from its text with positions: the plain
 * value to check and convert, and a way back from a JSON pointer to the line
 * and column it came from. A text that starts with `{` is JSON and is read
 * with `jsonc-parser` (strict JSON: no comments, no trailing commas, every
 * syntax error with its offset); anything else is YAML, read with `yaml`.
 */
import { getNodeValue, type Node as JsonNode, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";

/** A place in the source text, 1-based. */
export interface SourcePosition {
  line: number;
  column: number;
}

export type SpecSource =
  | { ok: true; value: unknown; locate: (pointer: string) => SourcePosition }
  | { ok: false; message: string; position: SourcePosition };

/** JSON pointer (RFC 6901) segments of `pointer`. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The JSON pointer of `segments`. */
export function pointerOf(segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

const MAX_ALIAS_COUNT = 100;

/** Is this text JSON (rather than YAML)? The same test decides the upload's file type. */
export const looksLikeJson = (text: string): boolean => text.trimStart().startsWith("{");

/**
 * Parse `text` (JSON or YAML) keeping positions. A document that does not
 * parse gives the first error with its line and column.
 */
export function readSpecSource(text: string): SpecSource {
  return looksLikeJson(text) ? readJson(text) : readYaml(text);
}

function readJson(text: string): SpecSource {
  const lines = new LineCounter();
  let at = 0;
  for (;;) {
    // LineCounter learns line starts from its caller; JSON has no parser that feeds it.
    lines.addNewLine(at);
    const nl = text.indexOf("\n", at);
    if (nl < 0) break;
    at = nl + 1;
  }
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const position = (offset: number): SourcePosition => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const first = errors[0];
  if (first || root === undefined) {
    return { ok: false, message: first ? jsonErrorText(printParseErrorCode(first.error)) : "empty document", position: position(first?.offset ?? 0) };
  }
  const value: unknown = getNodeValue(root);
  const locate = (pointer: string): SourcePosition => {
    // The deepest node that exists on the path; for a property, its key.
    let node: JsonNode = root;
    let offset = root.offset;
    for (const seg of pointerSegments(pointer)) {
      let next: JsonNode | undefined;
      if (node.type === "object") {
        const prop = node.children?.find((p) => p.children?.[0]?.value === seg);
        if (prop) offset = prop.offset;
        next = prop?.children?.[1];
      } else if (node.type === "array" && /^\d+$/.test(seg)) {
        next = node.children?.[Number(seg)];
        if (next) offset = next.offset;
      }
      if (!next) break;
      node = next;
    }
    return position(offset);
  };
  return { ok: true, value, locate };
}

/** jsonc-parser's error names (`CommaExpected`) as words. */
function jsonErrorText(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

function readYaml(text: string): SpecSource {
  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true, version: "1.2" });
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err), position: { line: 1, column: 1 } };
  }
  const first = doc.errors[0];
  if (first) {
    const at = lines.linePos(first.pos[0]);
    return { ok: false, message: firstLine(first.message), position: { line: at.line, column: at.col } };
  }
  let value: unknown;
  try {
    // A bounded alias count stops a "billion laughs" document from taking the function down.
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    return { ok: false, message: firstLine(err instanceof Error ? err.message : String(err)), position: { line: 1, column: 1 } };
  }
  const locate = (pointer: string): SourcePosition => {
    const offset = offsetOf(doc, pointerSegments(pointer));
    const at = lines.linePos(offset);
    return { line: at.line, column: at.col };
  };
  return { ok: true, value, locate };
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
}

/**
 * The source offset of the deepest node on the pointer's path: the key of a
 * map entry (so `post:` is named, not its first child), an item of a list,
 * or the nearest existing ancestor when the pointer names something absent.
 */
function offsetOf(doc: Document.Parsed, segments: string[]): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyText(p.key) === seg);
      if (!pair) break;
      offset = rangeStart(pair.key) ?? rangeStart(pair.value) ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined || !/^\d+$/.test(seg)) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === "string" ? key : undefined;
}

function rangeStart(node: unknown): number | undefined {
  return node !== null && typeof node === "object" && "range" in node && Array.isArray((node as Node).range) ? (node as Node).range![0] : undefined;
}
