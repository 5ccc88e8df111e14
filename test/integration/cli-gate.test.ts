/**
 * The CLI as a pipeline meets it, run as a child process against the whole
 * service on loopback: the import gate (lint, --dry-run, exit 6), the
 * reports CI systems show (JUnit, GitHub summary and outputs), failures with
 * the right cause (exit 5 naming the URL or APIG's code), and a newcomer's
 * first run (usage, --version, --out checked first, list paging, listen).
 */
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, existsSync, truncateSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, runCli } from "../support/cli-run";
import { type Harness, KEYS, registration, startHarness } from "../support/harness";

const root = join(import.meta.dirname, "..", "..");
const SPEC = join(root, "test", "fixtures", "pets.yaml");
const dir = mkdtempSync(join(tmpdir(), "cli-gate-"));

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { TASKWATCH_URL: h.apiUrl, TASKWATCH_API_KEY: KEYS.acme, ...env }, 90_000);
const whileTicking = <T>(fn: () => Promise<T>) => h.whileTicking(fn);

const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const BROKEN = readFileSync(SPEC, "utf8").replace("  /pets/{id}:", "  /pets/pet-{id}:").replace("paths:", "consumes: [application/json]\npaths:");

describe("the import gate on the command line", () => {
  it("lint FILE: file:line:col severity rule message, exit 6 on an error, 0 with warnings only", async () => {
    const bad = file("broken.yaml", BROKEN);
    const r = await cli(["lint", bad]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stdout.trim().split("\n")).toEqual([
      `${bad}:6:1 warning consumes-produces APIG ignores consumes`,
      `${bad}:15:3 error partial-segment-template path segment "pet-{id}" mixes text and a template; APIG's frontend paths take only whole-segment templates like {id}`,
    ]);
    expect(r.stderr).toContain("3 APIs, 1 error, 1 warning");
    const warnOnly = await cli(["lint", file("warn.yaml", readFileSync(SPEC, "utf8").replace("paths:", "produces: [a/b]\npaths:"))]);
    expect(warnOnly.code).toBe(0);
    expect(warnOnly.stdout).toContain(":6:1 warning consumes-produces");
    const json = await cli(["lint", bad, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, version: "2.0", apis: 3 });
    // The group name rule applies only to a new group.
    const spaced = file("spaced.yaml", readFileSync(SPEC, "utf8").replace("title: pets", "title: my pets"));
    expect((await cli(["lint", spaced, "--create-group"])).code).toBe(6);
    expect((await cli(["lint", spaced, "--group", "g1"])).code).toBe(0);
  });

  it("import --dry-run checks and submits nothing; a real import of a broken spec exits 6 and reports one failing testcase", async () => {
    const bad = file("broken2.yaml", BROKEN);
    const uploads = h.sim.uploads.length;
    const dry = await cli(["import", "--project", "p", "--instance", "i", "--file", bad, "--dry-run"]);
    expect(dry.code).toBe(6);
    expect(dry.stdout).toContain(":15:3 error partial-segment-template");
    const clean = await cli(["import", "--project", "p", "--instance", "i", "--file", SPEC, "--dry-run"]);
    expect(clean.code, clean.stderr).toBe(0);
    const junit = join(dir, "lint-junit.xml");
    const summary = file("summary-lint.md", "");
    const outputs = file("outputs-lint.txt", "");
    const r = await cli(["import", "--project", "p", "--instance", "i", "--file", bad, "--junit", junit, "--wait"], { GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: outputs });
    expect(r.code).toBe(6);
    expect(r.stdout).toContain(":15:3 error partial-segment-template");
    expect(h.sim.uploads.length).toBe(uploads);
    const xml = readFileSync(junit, "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const cases = new XMLParser({ ignoreAttributes: false }).parse(xml).testsuites.testsuite.testcase;
    expect(cases).toMatchObject({ "@_classname": "import-gate", "@_name": bad, failure: { "@_type": "partial-segment-template" } });
    expect(readFileSync(summary, "utf8")).toContain("rejected");
    expect(readFileSync(outputs, "utf8")).toBe("task_id=\nstatus=rejected\noutcome=rejected\n");
  });

  it("a spec file over 5 MiB is refused before upload, naming the file and the limit", async () => {
    const big = join(dir, "big.yaml");
    writeFileSync(big, "");
    truncateSync(big, 5 * 1024 * 1024 + 1);
    const calls = h.sim.requests.length;
    const r = await cli(["import", "--project", "p", "--instance", "i", "--file", big]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`taskwatch: ${big} is 5242881 bytes; the spec limit is 5 MiB (5242880 bytes)\n`);
    expect(h.sim.requests.length).toBe(calls);
  });
});

describe("the spec limit is the file's own size", () => {
  it("a 4.9 MiB file that JSON escaping would take to 7 MiB is imported (sent gzip-compressed)", async () => {
    const quotes = '"'.repeat(4.9 * 1024 * 1024 - 400);
    const text = readFileSync(SPEC, "utf8").replace("title: pets", `title: pets\n  description: '${quotes}'`);
    expect(JSON.stringify(text).length).toBeGreaterThan(9 * 1024 * 1024);
    const big = file("quotes.yaml", text);
    const r = await cli(["import", "--project", "proj1", "--instance", "inst1", "--file", big, "--group", "grp-big"]);
    expect(r.code, r.stderr).toBe(0);
    expect(h.sim.uploads.at(-1)!.content).toBe(text);
  });

  it("the service refuses spec_gzip holding more than 5 MiB with 413", async () => {
    const { gzipSync } = await import("node:zlib");
    const spec_gzip = gzipSync(Buffer.alloc(5 * 1024 * 1024 + 1, 0x20)).toString("base64");
    const r = await h.call("POST", "/imports/check", { body: { project_id: "p", instance_id: "i", spec_gzip } });
    expect(r.status).toBe(413);
    const both = await h.call("POST", "/imports/check", { body: { project_id: "p", instance_id: "i", spec: "a", spec_gzip } });
    expect(both.status).toBe(400);
  });
});

describe("reports CI systems show", () => {
  it("--junit: one testcase per API, classname the group, failure with APIG's code; GitHub summary and outputs", async () => {
    // An operationId with "fail" is reported failed by the simulator: a partial import.
    const spec = file("partial.yaml", readFileSync(SPEC, "utf8").replace("operationId: createPet", "operationId: createPetfail"));
    const junit = join(dir, "junit.xml");
    const summary = file("summary.md", "# earlier step\n");
    const outputs = file("outputs.txt", "");
    const r = await whileTicking(() =>
      cli(["import", "--project", "proj1", "--instance", "inst1", "--file", spec, "--group", "grp-junit", "--junit", junit], { GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: outputs }),
    );
    expect(r.code, r.stderr).toBe(3);
    const xml = readFileSync(junit, "utf8");
    expect(XMLValidator.validate(xml)).toBe(true);
    const suites = new XMLParser({ ignoreAttributes: false }).parse(xml).testsuites;
    expect(suites).toMatchObject({ "@_tests": "3", "@_failures": "1" });
    const cases = suites.testsuite.testcase as Array<Record<string, any>>;
    expect(cases.map((c) => [c["@_classname"], c["@_name"], c.failure?.["@_type"] ?? null])).toEqual([
      ["grp-junit", "GET /pets", null],
      ["grp-junit", "GET /pets/{id}", null],
      ["grp-junit", "POST /pets", "APIG.3301"],
    ]);
    const md = readFileSync(summary, "utf8");
    expect(md).toMatch(/^# earlier step\n### taskwatch import: partial/);
    expect(md).toContain("| POST /pets | APIG.3301 The API already exists |");
    const out = Object.fromEntries(readFileSync(outputs, "utf8").trim().split("\n").map((l) => l.split("=")));
    expect(out).toEqual({ task_id: expect.stringMatching(/^[0-9a-f]{32}$/), status: "succeed", outcome: "partial" });
  });
});

/** A server that is not apig-taskwatch: HTML 404s, or a scripted watch. */
async function otherServer(handler: (path: string) => { status: number; type: string; body: string }): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const a = handler(req.url ?? "/");
    res.writeHead(a.status, { "content-type": a.type }).end(a.body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("fail with the right cause", () => {
  it("a --url with a path the service does not serve, or another server's 404: exit 5 naming the URL", async () => {
    const stage = await cli(["get", "some-task", "--url", `${h.apiUrl}/dev`]);
    expect(stage.code).toBe(5);
    expect(stage.stderr).toBe(`taskwatch: ${h.apiUrl}/dev/tasks/some-task is not a route of this service (no such route): check --url / TASKWATCH_URL\n`);
    const other = await otherServer(() => ({ status: 404, type: "text/html", body: "<h1>Not Found</h1>" }));
    try {
      const r = await cli(["wait", "some-task", "--url", other.url]);
      expect(r.code).toBe(5);
      expect(r.stderr).toBe(`taskwatch: ${other.url}/tasks/some-task answered 404, which is not an apig-taskwatch answer: check --url / TASKWATCH_URL\n`);
    } finally {
      other.server.close();
    }
    // The service's own "no such watch" still blames the task.
    expect((await cli(["get", "cli-gate-none"])).code).toBe(1);
  });

  it("wait prints last_error as soon as it appears, and exits 5 naming APIG's code after 60 s of refused credentials on a registered watch", async () => {
    const t0 = Date.now();
    const since = new Date(t0 - 30_000).toISOString();
    let reads = 0;
    // A watch still `registered` whose APIG has refused the credentials for 30 s, then (30 s later by its clock) 61 s.
    const watch = (lastSince: string) =>
      JSON.stringify({
        task_id: "t-auth", status: "registered", outcome: null, task_type: null, created_at: since, finished_at: null, result: null, notify: [],
        last_error: { code: "APIG.1002", message: "Incorrect token or token resolution failed", http_status: 401, at: new Date().toISOString(), since: lastSince },
      });
    const fake = await otherServer(() => {
      reads++;
      return { status: 200, type: "application/json", body: reads < 3 ? watch(since) : watch(new Date(Date.now() - 61_000).toISOString()) };
    });
    try {
      const r = await cli(["wait", "t-auth", "--url", fake.url]);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/t-auth {2}last error: APIG\.1002 Incorrect token/);
      expect(r.stderr).toMatch(/taskwatch: APIG has refused the credentials for 6\d s: APIG\.1002 Incorrect token or token resolution failed; the watch goes on \(taskwatch wait t-auth\)\n$/);
      // The last error line came from the first read, before the exit.
      expect(r.stderr.indexOf("last error")).toBeLessThan(r.stderr.indexOf("refused the credentials for"));
    } finally {
      fake.server.close();
    }
  });

  it("against the real service: a watch whose APIG refuses the credentials shows the error while waiting", async () => {
    h.sim.script("cli-gate-401", Array.from({ length: 50 }, () => ({ status: 401, body: JSON.stringify({ error_code: "APIG.1002", error_msg: "Incorrect token or token resolution failed" }) })));
    await h.call("POST", "/tasks", { body: registration("cli-gate-401") });
    const r = await cli(["wait", "cli-gate-401", "--timeout", "2"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("cli-gate-401  last error: APIG.1002 Incorrect token or token resolution failed");
  });
});

describe("a newcomer's first run", () => {
  it("no arguments: the usage on stderr and exit 2; --version prints the package version", async () => {
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^taskwatch: no command given\ntaskwatch: watch APIG/);
    const v = await cli(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, "cli", "package.json"), "utf8")).version);
  });

  it("export --out into a missing directory fails before anything is submitted", async () => {
    const calls = h.sim.requests.length;
    const r = await cli(["export", "--project", "p", "--instance", "i", "--group", "g", "--env", "e", "--out", "/missing-dir/x.json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^taskwatch: --out \/missing-dir\/x.json: cannot write in \/missing-dir \(ENOENT\)\n$/);
    expect(h.sim.requests.length).toBe(calls);
  });

  it("list --all pages through every watch, --cursor continues, --outcome filters", async () => {
    const ids = Array.from({ length: 5 }, (_, i) => `cli-gate-list-${i}`);
    for (const id of ids) {
      h.task(id, [id.endsWith("0") ? { status: "failed", result: JSON.stringify({ error_code: "APIG.3201", error_msg: "x" }) } : "processing"]);
      await h.call("POST", "/tasks", { body: registration(id) });
    }
    const first = await cli(["list", "--limit", "2"]);
    expect(first.stdout.trim().split("\n")).toHaveLength(2);
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await cli(["list", "--limit", "2", "--cursor", cursor!]);
    expect(second.stdout.trim().split("\n")).toHaveLength(2);
    expect(second.stdout).not.toContain(first.stdout.split("  ")[0]);
    const all = await cli(["list", "--all", "--limit", "2"]);
    for (const id of ids) expect(all.stdout).toContain(id);
    const failed = await cli(["list", "--all", "--outcome", "failed"]);
    expect(failed.stdout).toContain("cli-gate-list-0");
    expect(failed.stdout).not.toContain("cli-gate-list-1");
    expect((await cli(["list", "--outcome", "great"])).code).toBe(2);
  });

  it("listen: verifies and prints a signed webhook, refuses a forged one", async () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
    const p = spawn(process.execPath, [CLI, "listen", "--port", "0", "--secret", secret], { env: { PATH: process.env.PATH! } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (c) => (stdout += c));
    const url = await new Promise<string>((ok) => p.stderr.on("data", (c) => {
      stderr += c;
      const m = /listening on (http:\/\/\S+)/.exec(stderr);
      if (m) ok(m[1]!);
    }));
    const body = JSON.stringify({ type: "task.succeeded", data: { task_id: "t-listen", task_type: "import_api", outcome: "succeeded" } });
    const ts = Math.floor(Date.now() / 1000);
    const sig = createHmac("sha256", Buffer.alloc(32, 7)).update(`msg_1.${ts}.${body}`).digest("base64");
    const good = await fetch(url, { method: "POST", body, headers: { "webhook-id": "msg_1", "webhook-timestamp": String(ts), "webhook-signature": `v1,${sig}` } });
    const bad = await fetch(url, { method: "POST", body, headers: { "webhook-id": "msg_2", "webhook-timestamp": String(ts), "webhook-signature": `v1,${sig}` } });
    expect([good.status, bad.status]).toEqual([204, 401]);
    p.kill("SIGINT");
    await new Promise((r) => p.on("exit", r));
    expect(stdout).toMatch(/POST \/ {2}verified {2}task\.succeeded {2}t-listen {2}import_api {2}succeeded\n/);
    expect(stdout).toMatch(/REFUSED \(signature does not match the secret\)/);
    expect(existsSync(dir)).toBe(true);
  });
});
