/**
 * What the import gate answers (`POST /imports/check`) and what a watch keeps
 * of it: schemas only, so the watch schema can name them without pulling the
 * YAML parser into every bundle.
 */
import * as z from "./zod";

/** One finding of the gate. */
export const ImportFinding = z.object({
  severity: z.enum(["error", "warning"]),
  rule: z.string(),
  /** JSON pointer into the document as written ("" is the whole document). */
  pointer: z.string(),
  line: z.int(),
  column: z.int(),
  message: z.string(),
});
export type ImportFinding = z.infer<typeof ImportFinding>;

/** The answer of `POST /imports/check`, and what a watch keeps as `import_check`. */
export const ImportCheck = z.object({
  /** No error finding: the document may be uploaded. */
  ok: z.boolean(),
  /** The version uploaded ("2.0", "3.0.x"; "3.0.3" after a conversion); null when it could not be told. */
  version: z.nullable(z.string()),
  /** The version written when the document was converted ("3.1.0"), else null. */
  converted_from: z.nullable(z.string()),
  /** Operations in the document: the APIs the import creates or updates. */
  apis: z.int(),
  findings: z.array(ImportFinding),
});
export type ImportCheck = z.infer<typeof ImportCheck>;

/** The most warnings a watch keeps; the count says how many there were. */
export const MAX_KEPT_WARNINGS = 10;

/** What a watch keeps of its import's check: small, because the watch item is rewritten on every transition. */
export const ImportCheckSummary = z.object({
  version: z.nullable(z.string()),
  converted_from: z.nullable(z.string()),
  apis: z.int(),
  warning_count: z.int(),
  /** The first {@link MAX_KEPT_WARNINGS} warnings. */
  warnings: z.array(ImportFinding),
});
export type ImportCheckSummary = z.infer<typeof ImportCheckSummary>;

/** The summary a watch keeps of a passed check. */
export function summarizeCheck(c: ImportCheck): ImportCheckSummary {
  const warnings = c.findings.filter((f) => f.severity === "warning");
  return { version: c.version, converted_from: c.converted_from, apis: c.apis, warning_count: warnings.length, warnings: warnings.slice(0, MAX_KEPT_WARNINGS) };
}
