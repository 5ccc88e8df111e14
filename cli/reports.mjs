// @ts-check
/**
 * What CI systems show of an import: a JUnit XML report (one testcase per
 * API), GitHub's job summary (Markdown appended to GITHUB_STEP_SUMMARY) and
 * step outputs (GITHUB_OUTPUT). Pure text builders plus two appends.
 */
import { appendFileSync, writeFileSync } from "node:fs";

/** @typedef {import("./api.mjs").Watch} Watch */
/** @typedef {{ severity: string, rule: string, pointer: string, line: number, column: number, message: string }} Finding */
/** @typedef {{ classname: string, name: string, failure?: { type: string, message: string, text: string }, skipped?: string }} TestCase */

/** @param {string} s */
const xml = (s) =>
  s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");

/**
 * The testcases of a finished import: one per API APIG reported (`classname`
 * the group, `name` "METHOD path"); a task that failed as a whole, or did not
 * finish, is one failing testcase.
 * @param {Watch} w
 * @param {string} fallbackGroup the group named on the command line, for a result that names none
 * @returns {TestCase[]}
 */
export function importCases(w, fallbackGroup) {
  const r = w.result;
  const group = (r?.kind === "import" && r.group_id) || fallbackGroup;
  if (r?.kind === "import") {
    /** @type {TestCase[]} */
    const cases = [];
    for (const s of r.success ?? []) cases.push({ classname: group, name: `${s.method ?? "?"} ${s.path ?? "?"}` });
    for (const f of r.failure ?? []) {
      const code = String(f.error_code ?? "failed");
      const msg = String(f.error_msg ?? "");
      cases.push({ classname: group, name: `${f.method ?? "?"} ${f.path ?? "?"}`, failure: { type: code, message: `${code} ${msg}`.trim(), text: `${code} ${msg}`.trim() } });
    }
    for (const i of r.ignore ?? []) cases.push({ classname: group, name: `${i.method ?? "?"} ${i.path ?? "?"}`, skipped: "ignored by APIG" });
    if (cases.length > 0) return cases;
  }
  if (w.outcome === "succeeded") return [{ classname: group, name: "import" }];
  const code = r?.kind === "failure" ? String(r.error_code ?? w.outcome) : (w.last_error?.code ?? String(w.outcome ?? w.status));
  const msg = r?.kind === "failure" ? String(r.error_msg ?? "") : (w.last_error?.message ?? `the import ended ${w.outcome ?? w.status}`);
  return [{ classname: group, name: "import", failure: { type: code, message: `${code} ${msg}`.trim(), text: `task ${w.task_id}: ${w.outcome ?? w.status}\n${code} ${msg}` } }];
}

/**
 * A refused spec (exit 6) as one failing testcase listing the error findings.
 * @param {string} file
 * @param {Finding[]} findings
 * @returns {TestCase[]}
 */
export function lintCases(file, findings) {
  const errors = findings.filter((f) => f.severity === "error");
  const first = errors[0];
  return [
    {
      classname: "import-gate",
      name: file,
      failure: {
        type: first?.rule ?? "spec_rejected",
        message: `${errors.length} APIG import rule${errors.length === 1 ? "" : "s"} broken${first ? `: ${first.rule} at ${first.line}:${first.column}` : ""}`,
        text: findings.map((f) => `${file}:${f.line}:${f.column} ${f.severity} ${f.rule} ${f.message}`).join("\n"),
      },
    },
  ];
}

/**
 * A JUnit XML document of `cases`.
 * @param {string} suite
 * @param {TestCase[]} cases
 */
export function junitXml(suite, cases) {
  const failures = cases.filter((c) => c.failure).length;
  const skipped = cases.filter((c) => c.skipped !== undefined).length;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="taskwatch" tests="${cases.length}" failures="${failures}" skipped="${skipped}">`,
    `  <testsuite name="${xml(suite)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" errors="0" timestamp="${new Date().toISOString().slice(0, 19)}">`,
  ];
  for (const c of cases) {
    const open = `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}"`;
    if (c.failure) {
      lines.push(`${open}>`, `      <failure type="${xml(c.failure.type)}" message="${xml(c.failure.message)}">${xml(c.failure.text)}</failure>`, "    </testcase>");
    } else if (c.skipped !== undefined) {
      lines.push(`${open}>`, `      <skipped message="${xml(c.skipped)}"/>`, "    </testcase>");
    } else {
      lines.push(`${open}/>`);
    }
  }
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}

/**
 * Write the JUnit file, and the GitHub summary and outputs when their files are set.
 * @param {{ junit?: string, env: Record<string, string | undefined>, suite: string, cases: TestCase[],
 *   outputs: { task_id: string, status: string, outcome: string }, markdown: string }} r
 */
export function writeReports(r) {
  if (r.junit) writeFileSync(r.junit, junitXml(r.suite, r.cases));
  if (r.env.GITHUB_STEP_SUMMARY) appendFileSync(r.env.GITHUB_STEP_SUMMARY, r.markdown);
  if (r.env.GITHUB_OUTPUT) {
    const clean = (/** @type {string} */ v) => v.replace(/[\r\n]/g, " ");
    appendFileSync(r.env.GITHUB_OUTPUT, `task_id=${clean(r.outputs.task_id)}\nstatus=${clean(r.outputs.status)}\noutcome=${clean(r.outputs.outcome)}\n`);
  }
}

/** @param {string} s */
const md = (s) => s.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`);

/**
 * The job summary of a finished import: outcome, counts, the failed APIs.
 * @param {Watch} w
 */
export function importMarkdown(w) {
  const r = w.result;
  const lines = [`### taskwatch import: ${w.outcome ?? w.status}`, "", `Task \`${w.task_id}\`${r?.kind === "import" && r.group_id ? `, group \`${r.group_id}\`` : ""}.`, ""];
  if (r?.kind === "import") {
    lines.push("| imported | failed | ignored |", "|---:|---:|---:|", `| ${r.success_count} | ${r.failure_count} | ${r.ignore_count} |`, "");
    const failed = r.failure ?? [];
    if (failed.length > 0) {
      lines.push("| failed API | APIG error |", "|---|---|");
      for (const f of failed.slice(0, 50)) lines.push(`| ${md(`${f.method ?? "?"} ${f.path ?? "?"}`)} | ${md(`${f.error_code ?? ""} ${f.error_msg ?? ""}`.trim())} |`);
      if (failed.length > 50) lines.push(`| ... | ${failed.length - 50} more |`);
      lines.push("");
    }
  } else if (r?.kind === "failure") {
    lines.push(`APIG: ${md(`${r.error_code ?? ""} ${r.error_msg ?? ""}`.trim())}`, "");
  }
  return `${lines.join("\n")}\n`;
}

/**
 * The job summary of a refused spec.
 * @param {string} file
 * @param {Finding[]} findings
 */
export function lintMarkdown(file, findings) {
  const lines = [`### taskwatch import: rejected (the spec breaks APIG's import rules; nothing was submitted)`, "", "| where | severity | rule | message |", "|---|---|---|---|"];
  for (const f of findings.slice(0, 50)) lines.push(`| ${md(`${file}:${f.line}:${f.column}`)} | ${f.severity} | ${f.rule} | ${md(f.message)} |`);
  return `${lines.join("\n")}\n\n`;
}
