/**
 * An OpenAPI / Swagger document read from its text with positions: the plain
 * value to check and convert, and a way back from JSON pointers to the lines
 * and columns they came from.
 *
 * A text that starts with `{` is JSON: `JSON.parse` for the value, and
 * `jsonc-parser` (strict: no comments, no trailing commas) for the offset of
 * a syntax error and for positions. Anything else is YAML, read with
 * `js-yaml`: `load` for the value, its event stream (`parseEvents`, every
 * node with its source offset) for positions. Positions are computed only
 * when there is a finding to place, so a clean document costs one parse.
 * (The `yaml` package keeps a full positional tree and was 7 times slower:
 * 7.4 s against 1.0 s for a 1 MB spec on this machine under load.)
 */
import { type Event, EVENT_ID, getScalarValue, load, parseEvents, YAMLException } from "js-yaml";
import { getNodeValue, type Node as JsonNode, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";

/** A place in the source text, 1-based. */
export interface SourcePosition {
  line: number;
  column: number;
}

export type SpecSource =
  | { ok: true; value: unknown; locate: (pointers: readonly string[]) => SourcePosition[] }
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

/** Is this text JSON (rather than YAML)? */
export const looksLikeJson = (text: string): boolean => text.trimStart().startsWith("{");

/** Collections nested deeper than this are refused (a hostile document cannot exhaust the stack). */
const MAX_DEPTH = 200;

/**
 * Parse `text` (JSON or YAML). A document that does not parse gives its
 * first error with its line and column.
 */
export function readSpecSource(text: string): SpecSource {
  return looksLikeJson(text) ? readJson(text) : readYaml(text);
}

/** Offsets to 1-based lines and columns. */
function positionsIn(text: string): (offset: number) => SourcePosition {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

function readJson(text: string): SpecSource {
  const position = positionsIn(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const errors: ParseError[] = [];
    parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    const words = first ? printParseErrorCode(first.error).replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() : "not valid JSON";
    return { ok: false, message: words, position: position(first?.offset ?? 0) };
  }
  const locate = (pointers: readonly string[]): SourcePosition[] => {
    const root = parseTree(text, [], { disallowComments: true });
    return pointers.map((p) => position(root ? jsonOffset(root, pointerSegments(p)) : 0));
  };
  return { ok: true, value, locate };
}

/** The offset of the deepest node on the path that exists; for a property, its key. */
function jsonOffset(root: JsonNode, segments: string[]): number {
  let node = root;
  let offset = root.offset;
  for (const seg of segments) {
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
  return offset;
}

function readYaml(text: string): SpecSource {
  const position = positionsIn(text);
  let value: unknown;
  try {
    value = load(text, { maxDepth: MAX_DEPTH });
  } catch (err) {
    if (err instanceof YAMLException) {
      const mark = err.mark;
      return { ok: false, message: err.reason, position: mark ? { line: mark.line + 1, column: mark.column + 1 } : { line: 1, column: 1 } };
    }
    return { ok: false, message: err instanceof Error ? err.message : String(err), position: { line: 1, column: 1 } };
  }
  const locate = (pointers: readonly string[]): SourcePosition[] => {
    const offsets = yamlOffsets(text, pointers);
    return pointers.map((p) => position(offsets.get(p) ?? 0));
  };
  return { ok: true, value, locate };
}

interface Frame {
  pointer: string;
  kind: "map" | "seq" | "doc";
  index: number;
  /** For a map: the key just read (its value comes next), or null when a key comes next. */
  key: string | null;
  keyOffset: number;
}

/**
 * The source offset of each pointer, from one pass over js-yaml's events:
 * the key of a map entry (so `post:` is named, not its first child), an item
 * of a list, or the nearest ancestor that exists.
 */
function yamlOffsets(text: string, pointers: readonly string[]): Map<string, number> {
  // Every prefix of a wanted pointer, so a missing one falls back to its nearest ancestor.
  const wanted = new Set<string>();
  for (const p of pointers) {
    const segs = pointerSegments(p);
    for (let n = 0; n <= segs.length; n++) wanted.add(pointerOf(segs.slice(0, n)));
  }
  const found = new Map<string, number>([["", 0]]);
  const stack: Frame[] = [];
  let events: Event[];
  try {
    events = parseEvents(text, { maxDepth: MAX_DEPTH });
  } catch {
    events = [];
  }
  for (const ev of events) {
    if (ev.type === EVENT_ID.DOCUMENT) {
      if (stack.length === 0) stack.push({ pointer: "", kind: "doc", index: 0, key: null, keyOffset: 0 });
      continue;
    }
    if (ev.type === EVENT_ID.POP) {
      stack.pop();
      continue;
    }
    const parent = stack.at(-1);
    if (!parent) break; // a second document: not ours to place
    const start = ev.type === EVENT_ID.SCALAR ? ev.valueStart : ev.type === EVENT_ID.ALIAS ? ev.anchorStart : ev.start;
    let pointer: string;
    let offset: number;
    if (parent.kind === "map") {
      if (parent.key === null) {
        // A key: remember it; its value is the node.
        parent.key = ev.type === EVENT_ID.SCALAR ? getScalarValue(text, ev) : "\u0000complex";
        parent.keyOffset = keyStart(text, start);
        if (ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE) stack.push({ pointer: "\u0000", kind: ev.type === EVENT_ID.MAPPING ? "map" : "seq", index: 0, key: null, keyOffset: 0 });
        continue;
      }
      pointer = `${parent.pointer}/${parent.key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      offset = parent.keyOffset;
      parent.key = null;
    } else if (parent.kind === "seq") {
      pointer = `${parent.pointer}/${parent.index++}`;
      offset = start;
    } else {
      pointer = "";
      offset = start;
    }
    if (wanted.has(pointer) && !found.has(pointer)) found.set(pointer, offset);
    if (ev.type === EVENT_ID.MAPPING || ev.type === EVENT_ID.SEQUENCE) {
      stack.push({ pointer, kind: ev.type === EVENT_ID.MAPPING ? "map" : "seq", index: 0, key: null, keyOffset: 0 });
    }
  }
  const out = new Map<string, number>();
  for (const p of pointers) {
    const segs = pointerSegments(p);
    for (let n = segs.length; n >= 0; n--) {
      const at = found.get(pointerOf(segs.slice(0, n)));
      if (at !== undefined) {
        out.set(p, at);
        break;
      }
    }
  }
  return out;
}

/** A quoted key's position is its opening quote. */
function keyStart(text: string, valueStart: number): number {
  const before = text[valueStart - 1];
  return before === '"' || before === "'" ? valueStart - 1 : valueStart;
}
