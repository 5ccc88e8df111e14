/**
 * `action.yml` (GitHub composite action) and `templates/taskwatch-import.yml`
 * (GitLab CI component) run as their runners would, against the service on
 * loopback: the YAML parsed, the inputs substituted with the runner's syntax
 * and defaults, each `run:` / `script:` executed by the runner's shell in a
 * child process, outputs and reports read back the way the runner does.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { type Harness, KEYS, startHarness } from "../support/harness";

const root = join(import.meta.dirname, "..", "..");
const SPEC = readFileSync(join(root, "test", "fixtures", "pets.yaml"), "utf8");

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/** Run `script` with `shell` in `cwd` while the poller ticks, as the deployed schedule would. */
function runShell(shell: string[], script: string, env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return h.whileTicking(
    () =>
      new Promise((ok) => {
        const p = spawn(shell[0]!, [...shell.slice(1), script], { cwd, env: { PATH: process.env.PATH!, ...env } });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (c) => (stdout += c));
        p.stderr.on("data", (c) => (stderr += c));
        p.on("exit", (code) => ok({ code: code ?? -1, stdout, stderr }));
      }),
  );
}

/** A GitHub runner's view of a composite action: inputs with defaults, `${{ inputs.x }}` and `${{ steps.s.outputs.x }}`. */
async function runAction(given: Record<string, string>) {
  const action = parse(readFileSync(join(root, "action.yml"), "utf8")) as {
    inputs: Record<string, { required?: boolean; default?: string }>;
    outputs: Record<string, { value: string }>;
    runs: { using: string; steps: Array<{ id: string; shell: string; env: Record<string, string>; run: string }> };
  };
  expect(action.runs.using).toBe("composite");
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) {
    if (spec.required && given[name] === undefined) throw new Error(`input ${name} is required`);
    inputs[name] = given[name] ?? spec.default ?? "";
  }
  const workspace = mkdtempSync(join(tmpdir(), "gh-workspace-"));
  const stepOutputs: Record<string, Record<string, string>> = {};
  const summary = join(workspace, "step-summary.md");
  writeFileSync(summary, "");
  const expr = (s: string) =>
    s.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => {
      const input = /^inputs\.([\w-]+)$/.exec(e);
      if (input) return inputs[input[1]!] ?? "";
      const out = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e);
      if (out) return stepOutputs[out[1]!]?.[out[2]!] ?? "";
      throw new Error(`expression the test runner does not know: ${e}`);
    });
  let last = { code: 0, stdout: "", stderr: "" };
  for (const step of action.runs.steps) {
    expect(step.shell).toBe("bash");
    const outputFile = join(workspace, `output-${step.id}`);
    writeFileSync(outputFile, "");
    const env = Object.fromEntries(Object.entries(step.env).map(([k, v]) => [k, expr(String(v))]));
    // GitHub runs `bash --noprofile --norc -eo pipefail {0}` with the action's directory in GITHUB_ACTION_PATH.
    last = await runShell(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"], step.run, { ...env, GITHUB_ACTION_PATH: root, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summary }, workspace);
    stepOutputs[step.id] = Object.fromEntries(
      readFileSync(outputFile, "utf8").split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    if (last.code !== 0) break;
  }
  const outputs = Object.fromEntries(Object.entries(action.outputs).map(([k, v]) => [k, expr(v.value)]));
  return { ...last, outputs, workspace, summary: readFileSync(summary, "utf8") };
}

/** A GitLab runner's view of a component: `spec: inputs:` with defaults, `$[[ inputs.x ]]` interpolated into the job before it is parsed. */
async function runComponent(given: Record<string, string | boolean | number>, ciEnv: Record<string, string>) {
  const text = readFileSync(join(root, "templates", "taskwatch-import.yml"), "utf8");
  const [header] = parseAllDocuments(text);
  const specInputs = (header!.toJS() as { spec: { inputs: Record<string, { default?: unknown }> } }).spec.inputs;
  const inputs: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specInputs)) {
    if (given[name] === undefined && spec.default === undefined) throw new Error(`input ${name} is required`);
    inputs[name] = given[name] ?? spec.default;
  }
  const body = text.slice(text.indexOf("\n---\n") + 5).replace(/\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g, (_, n: string) => {
    if (!(n in inputs)) throw new Error(`unknown input ${n}`);
    return String(inputs[n]);
  });
  const job = (parse(body) as Record<string, { variables: Record<string, string>; script: string[]; artifacts: { reports: { junit: string } } }>)["taskwatch-import"]!;
  const workspace = mkdtempSync(join(tmpdir(), "gl-build-"));
  // Job variables may refer to CI/CD variables ($NAME); project variables win over job ones of the same name.
  const variables = Object.fromEntries(
    Object.entries(job.variables).map(([k, v]) => [k, ciEnv[k] ?? String(v).replace(/\$(\w+)/g, (_, n: string) => ciEnv[n] ?? "")]),
  );
  let last = { code: 0, stdout: "", stderr: "" };
  for (const line of job.script) {
    last = await runShell(["sh", "-e", "-c"], line, { ...ciEnv, ...variables }, workspace);
    if (last.code !== 0) break;
  }
  return { ...last, workspace, junit: job.artifacts.reports.junit };
}

const junitCases = (xml: string) => {
  expect(XMLValidator.validate(xml)).toBe(true);
  const c = new XMLParser({ ignoreAttributes: false }).parse(xml).testsuites.testsuite.testcase;
  return (Array.isArray(c) ? c : [c]) as Array<Record<string, any>>;
};

describe("action.yml, run as a GitHub runner would", () => {
  it("imports, waits, writes the JUnit file, the job summary and the outputs", async () => {
    const ws = mkdtempSync(join(tmpdir(), "gh-spec-"));
    writeFileSync(join(ws, "pets.yaml"), SPEC);
    const r = await runAction({ url: h.apiUrl, "api-key": KEYS.acme, project: "proj1", instance: "inst1", file: join(ws, "pets.yaml"), "create-group": "true", junit: join(ws, "report.xml") });
    expect(r.code, r.stderr).toBe(0);
    expect(r.outputs).toEqual({ task_id: expect.stringMatching(/^[0-9a-f]{32}$/), status: "succeed", outcome: "succeeded" });
    expect(junitCases(readFileSync(join(ws, "report.xml"), "utf8")).map((c) => c["@_name"])).toEqual(["GET /pets", "POST /pets", "GET /pets/{id}"]);
    expect(r.summary).toContain("### taskwatch import: succeeded");
  });

  it("a partial import fails the step with exit 3 and still reports the failed API", async () => {
    const ws = mkdtempSync(join(tmpdir(), "gh-spec-"));
    writeFileSync(join(ws, "pets.yaml"), SPEC.replace("operationId: getPet", "operationId: getPetfail"));
    const r = await runAction({ url: h.apiUrl, "api-key": KEYS.acme, project: "proj1", instance: "inst1", file: join(ws, "pets.yaml"), group: "grp-gh", junit: join(ws, "report.xml") });
    expect(r.code).toBe(3);
    expect(r.outputs.outcome).toBe("partial");
    const failed = junitCases(readFileSync(join(ws, "report.xml"), "utf8")).filter((c) => c.failure);
    expect(failed.map((c) => [c["@_classname"], c["@_name"], c.failure["@_type"]])).toEqual([["grp-gh", "GET /pets/{id}", "APIG.3301"]]);
    expect(r.summary).toContain("| GET /pets/{id} | APIG.3301 The API already exists |");
  });
});

describe("templates/taskwatch-import.yml, run as a GitLab runner would", () => {
  it("imports with the API key from a CI/CD variable and leaves the JUnit report where artifacts:reports:junit says", async () => {
    const cli = `node ${join(root, "cli", "taskwatch.mjs")}`;
    const ws = mkdtempSync(join(tmpdir(), "gl-spec-"));
    writeFileSync(join(ws, "pets.yaml"), SPEC);
    const r = await runComponent({ url: h.apiUrl, project: "proj1", instance: "inst1", file: join(ws, "pets.yaml"), "create-group": true, cli }, { TASKWATCH_API_KEY: KEYS.acme });
    expect(r.code, r.stderr).toBe(0);
    const cases = junitCases(readFileSync(join(r.workspace, r.junit), "utf8"));
    expect(cases).toHaveLength(3);
    expect(cases.every((c) => !c.failure)).toBe(true);
  });

  it("a spec that breaks an import rule fails the job with exit 6 and a report naming the line", async () => {
    const cli = `node ${join(root, "cli", "taskwatch.mjs")}`;
    const ws = mkdtempSync(join(tmpdir(), "gl-spec-"));
    writeFileSync(join(ws, "pets.yaml"), SPEC.replace("  /pets/{id}:", "  /pets/pet-{id}:"));
    const uploads = h.sim.uploads.length;
    const r = await runComponent({ url: h.apiUrl, project: "proj1", instance: "inst1", file: join(ws, "pets.yaml"), group: "g1", cli }, { TASKWATCH_API_KEY: KEYS.acme });
    expect(r.code).toBe(6);
    expect(h.sim.uploads.length).toBe(uploads);
    const [c] = junitCases(readFileSync(join(r.workspace, r.junit), "utf8"));
    expect(c!.failure["#text"]).toContain("pets.yaml:14:3 error partial-segment-template");
  });
});
