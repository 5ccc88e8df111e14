/**
 * The import gate: one pure check of an OpenAPI / Swagger document against
 * APIG's import rules, run before anything is uploaded (`POST /imports/check`,
 * `POST /imports`, `taskwatch lint`). It parses with positions, converts
 * OpenAPI 3.1 to 3.0.3, and answers findings that name the rule, the JSON
 * pointer, and the line and column in the text as written.
 */
import { dump } from "js-yaml";
import { checkImportRules, operationsOf } from "./import-rules";
import { convert31to30, isObj, type RawFinding } from "./oas31-to-30";
import { looksLikeJson, readSpecSource } from "./spec-source";
import { type ImportCheck, type ImportFinding } from "./import-finding";

export interface ImportCheckResult {
  check: ImportCheck;
  /** The text to upload (the converted document, or the original as it is); null when `check.ok` is false. */
  upload: string | null;
}

/**
 * Check `text` against APIG's import rules.
 * @param opts.newGroup the import creates an API group (named by `info.title`)
 */
export function checkImportSpec(text: string, opts: { newGroup: boolean }): ImportCheckResult {
  const source = readSpecSource(text);
  if (!source.ok) {
    const f: ImportFinding = { severity: "error", rule: "parse-error", pointer: "", ...source.position, message: `the document does not parse: ${source.message}` };
    return refuse(null, null, 0, [f]);
  }
  const place = (raw: RawFinding[]): ImportFinding[] => {
    const at = source.locate(raw.map((f) => f.pointer));
    return raw.map((f, i) => ({ ...f, ...at[i]! }));
  };
  const doc = source.value;
  if (!isObj(doc)) {
    return refuse(null, null, 0, place([{ severity: "error", rule: "parse-error", pointer: "", message: "the document is not an object with swagger or openapi" }]));
  }
  const swagger = typeof doc.swagger === "string" ? doc.swagger : undefined;
  const openapi = typeof doc.openapi === "string" ? doc.openapi : undefined;
  let version: string;
  let converted_from: string | null = null;
  let document = doc;
  const raw: RawFinding[] = [];
  if (swagger === "2.0") {
    version = "2.0";
  } else if (openapi !== undefined && /^3\.0\.\d+$/.test(openapi)) {
    version = openapi;
  } else if (openapi !== undefined && /^3\.1\.\d+$/.test(openapi)) {
    const c = convert31to30(doc);
    document = c.document;
    raw.push(...c.findings);
    version = "3.0.3";
    converted_from = openapi;
  } else {
    const at = "swagger" in doc ? "/swagger" : "openapi" in doc ? "/openapi" : "";
    const given = swagger ?? openapi ?? String(doc.swagger ?? doc.openapi ?? "none");
    return refuse(null, null, 0, place([{ severity: "error", rule: "unsupported-version", pointer: at, message: `version ${given}: APIG imports Swagger 2.0 and OpenAPI 3.0 (3.1 is converted)` }]));
  }
  raw.push(...checkImportRules(document, { swagger2: version === "2.0", newGroup: opts.newGroup }));
  const findings = place(raw).sort((a, b) => a.line - b.line || a.column - b.column);
  const apis = operationsOf(document).length;
  const ok = !findings.some((f) => f.severity === "error");
  if (!ok) return refuse(version, converted_from, apis, findings);
  const upload = converted_from === null ? text : looksLikeJson(text) ? JSON.stringify(document, null, 2) : dump(document, { noRefs: true, lineWidth: -1 });
  return { check: { ok, version, converted_from, apis, findings }, upload };
}

function refuse(version: string | null, converted_from: string | null, apis: number, findings: ImportFinding[]): ImportCheckResult {
  return { check: { ok: false, version, converted_from, apis, findings }, upload: null };
}

/** A finding as one line, `file:line:col severity rule message` (the CLI's and CI logs' form). */
export function findingLine(file: string, f: ImportFinding): string {
  return `${file}:${f.line}:${f.column} ${f.severity} ${f.rule} ${f.message}`;
}
