/**
 * The `taskwatch` CLI run as a child process, as a pipeline runs it, against
 * the whole service on loopback (harness: dynalite, the APIG simulator, the
 * HTTP API): each exit code of `wait`, import and export end to end.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, KEYS, registration, startHarness } from "../support/harness";

const root = join(import.meta.dirname, "..", "..");
const CLI = join(root, "cli", "taskwatch.mjs");
const SPEC = join(root, "test", "fixtures", "pets.yaml");
const DONE = JSON.stringify({ success: [{ id: "a", method: "GET", path: "/a", action: "create" }], failure: [], group_id: "g" });
const PARTIAL = JSON.stringify({
  success: [{ id: "a", method: "GET", path: "/a", action: "create" }],
  failure: [{ method: "POST", path: "/b", error_code: "APIG.3301", error_msg: "The API already exists" }],
  group_id: "g",
});
const FAILED = JSON.stringify({ error_code: "APIG.3201", error_msg: "The API group name already exists" });

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run the CLI with a clean environment (no TASKWATCH_* of the developer's), asynchronously: the service runs in this process.
 * `printed(re)` resolves once its stderr so far matches `re`.
 */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> & { printed(re: RegExp): Promise<void> } {
  let child!: ChildProcess;
  const run = new Promise<Run>((ok) => {
    child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: { PATH: process.env.PATH!, TASKWATCH_URL: h.apiUrl, TASKWATCH_API_KEY: KEYS.acme, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => ok({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const printed = (re: RegExp) =>
    new Promise<void>((ok, fail) => {
      const check = () => {
        if (!re.test(err)) return;
        child.stderr!.off("data", check);
        ok();
      };
      child.stderr!.on("data", check);
      void run.then(() => (re.test(err) ? ok() : fail(new Error(`the CLI ended without printing ${re}:\n${err}`))));
      check();
    });
  return Object.assign(run, { printed });
}

const whileTicking = <T>(fn: () => Promise<T>) => h.whileTicking(fn);

/** One line on stderr, no stack trace. */
function oneLine(stderr: string) {
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toMatch(/^taskwatch: /);
  expect(stderr).not.toMatch(/\n\s+at |Error:/);
}

describe("taskwatch wait: exit codes", () => {
  it.each([
    ["succeeded", 0, [{ status: "succeed", result: DONE }]],
    ["failed", 1, [{ status: "failed", result: FAILED }]],
    ["partial", 3, [{ status: "succeed", result: PARTIAL }]],
  ] as const)("%s -> %i", async (outcome, code, states) => {
    const id = `cli-${outcome}`;
    h.task(id, [...states]);
    await h.call("POST", "/tasks", { body: registration(id) });
    const r = await cli(["wait", id]);
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout).toContain(`${id}  import_api  ${outcome}`);
  });

  it("a task that ends while waiting: 0, one progress line per change in a log", async () => {
    h.task("cli-later", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("cli-later") });
    const running = cli(["wait", "cli-later", "--json"]);
    // It has seen the task running; only now does the task end.
    await running.printed(/cli-later {2}processing\n/);
    h.task("cli-later", [{ status: "succeed", result: DONE }]);
    await h.tick();
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ task_id: "cli-later", outcome: "succeeded" });
    // Not a TTY: plain lines, no carriage returns or escape codes.
    expect(r.stderr).toMatch(/cli-later {2}processing\n/);
    expect(r.stderr).not.toMatch(/\r|\x1b/);
  });

  it.skipIf(spawnSync("sh", ["-c", "command -v script"]).status !== 0)("on a terminal: one live status line, redrawn in place", async () => {
    h.task("cli-tty", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("cli-tty") });
    // util-linux `script` gives the CLI a pseudo-terminal, as a developer's shell would.
    const r = await new Promise<Run>((ok) => {
      execFile(
        "script",
        ["-qefc", `${process.execPath} ${CLI} wait cli-tty --timeout 3`, "/dev/null"],
        { env: { PATH: process.env.PATH!, TASKWATCH_URL: h.apiUrl, TASKWATCH_API_KEY: KEYS.acme }, timeout: 30_000 },
        (err, stdout, stderr) => ok({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
      );
    });
    expect(r.code).toBe(4);
    // Redrawn with a carriage return and erase-line, at least once a second.
    const redraws = r.stdout.split("\r\x1b[2K").filter((l) => l.includes("cli-tty  processing"));
    expect(redraws.length).toBeGreaterThanOrEqual(3);
    expect(r.stdout).not.toMatch(/\d{4}-\d{2}-\d{2}T.*cli-tty {2}processing\n/);
  });

  it("still running at --timeout -> 4", async () => {
    h.task("cli-slow", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("cli-slow") });
    const t0 = Date.now();
    const r = await cli(["wait", "cli-slow", "--timeout", "1"]);
    expect(r.code).toBe(4);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.stderr).toContain("still processing after 1 s");
  });

  it("wrong key or unreachable service -> 5, one line on stderr", async () => {
    const refused = await cli(["wait", "cli-succeeded"], { TASKWATCH_API_KEY: "wrong-key" });
    expect(refused.code).toBe(5);
    oneLine(refused.stderr);
    expect(refused.stderr).toContain("refused the API key");
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    const down = await cli(["wait", "x", "--url", `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(5);
    oneLine(down.stderr);
    expect(down.stderr).toContain("cannot reach");
  });

  it("usage and configuration errors -> 2", async () => {
    for (const args of [["wait"], ["wait", "a", "b"], ["wait", "a", "--bogus"], ["wait", "a", "--timeout", "soon"], ["frobnicate"], ["wait", "a", "--url", "ftp://x"]]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      oneLine(r.stderr);
    }
    const noKey = await cli(["wait", "a"], { TASKWATCH_API_KEY: "" });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("TASKWATCH_API_KEY");
    expect((await cli(["--help"])).code).toBe(0);
  });
});

describe("taskwatch import / export / the rest", () => {
  it("import --file spec.yaml --wait: the simulator receives the file part, the job ends 0 with the counts", async () => {
    const before = h.sim.uploads.length;
    const r = await whileTicking(() => cli(["import", "--project", "proj1", "--instance", "inst1", "--file", SPEC, "--create-group", "--wait"]));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/import_api {2}succeeded/);
    expect(r.stdout).toContain("imported: 3 ok, 0 failed");
    expect(h.sim.uploads[before]).toMatchObject({ fileName: "pets.yaml", content: readFileSync(SPEC, "utf8"), fields: { is_create_group: "true" } });
  });

  it("a refused import exits 1 with APIG's reason and registers nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-"));
    // Passes the import gate (no rule needs paths), but the simulator, like APIG, cannot read a document without any.
    writeFileSync(join(dir, "bad.yaml"), "openapi: 3.0.0\ninfo: {title: no_paths, version: '1'}\n");
    const before = (await h.call("GET", "/tasks?limit=100")).json.items.length;
    const r = await cli(["import", "--project", "proj1", "--instance", "inst1", "--file", join(dir, "bad.yaml"), "--wait"]);
    expect(r.code).toBe(1);
    oneLine(r.stderr);
    expect(r.stderr).toContain("APIG refused the request: APIG.2012");
    expect((await h.call("GET", "/tasks?limit=100")).json.items.length).toBe(before);
    expect((await cli(["import", "--project", "proj1", "--instance", "inst1", "--file", join(dir, "missing.yaml")])).code).toBe(2);
  });

  it("export --out FILE writes the exported document", async () => {
    await h.call("POST", "/imports", { body: { project_id: "proj1", instance_id: "inst1", spec: readFileSync(SPEC, "utf8"), file_name: "pets.yaml", group_id: "grp-cli", is_create_group: false } });
    const out = join(mkdtempSync(join(tmpdir(), "cli-")), "exported.json");
    const r = await whileTicking(() => cli(["export", "--project", "proj1", "--instance", "inst1", "--group", "grp-cli", "--env", "RELEASE", "--out", out]));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toMatchObject({ swagger: "2.0", paths: { "/pets": { get: {}, post: {} }, "/pets/{id}": { get: {} } } });
    expect(r.stderr).toContain(`wrote ${out}`);
  });

  it("register --wait, get, list, cancel and redeliver talk to the API", async () => {
    h.task("cli-reg", [{ status: "succeed", result: DONE }]);
    const reg = await cli(["register", "--project", "proj1", "--instance", "inst1", "--task", "cli-reg", "--label", "ci=1", "--wait", "--json"]);
    expect(reg.code, reg.stderr).toBe(0);
    expect(JSON.parse(reg.stdout)).toMatchObject({ task_id: "cli-reg", labels: { ci: "1" }, outcome: "succeeded" });
    expect((await cli(["get", "cli-reg"])).stdout).toContain("cli-reg  import_api  succeeded");
    expect((await cli(["list", "--status", "succeed", "--limit", "100"])).stdout).toContain("cli-reg");
    expect((await cli(["redeliver", "cli-reg"])).code).toBe(0);
    const missing = await cli(["get", "cli-none"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("taskwatch: no such watch: cli-none\n");
    h.task("cli-cancel", ["processing"]);
    await h.call("POST", "/tasks", { body: registration("cli-cancel") });
    expect((await cli(["cancel", "cli-cancel"])).stdout).toContain("cancelled");
    expect((await cli(["wait", "cli-cancel"])).code).toBe(1);
  });
});

describe("taskwatch start time", () => {
  it("prints the time from spawn to its first request (a figure, not an assertion)", async () => {
    let arrived = 0;
    const server = createServer((req, res) => {
      arrived = performance.now();
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "not_found", message: "no such watch" } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const once = (args: string[]) =>
      new Promise<number>((ok) => {
        const t0 = performance.now();
        arrived = 0;
        const p = spawn(process.execPath, args, { env: { PATH: process.env.PATH!, TASKWATCH_URL: url, TASKWATCH_API_KEY: "k" }, stdio: "ignore" });
        p.on("exit", () => ok((arrived || performance.now()) - t0));
      });
    const cliMs: number[] = [];
    const nodeMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      cliMs.push(await once([CLI, "get", "x"]));
      nodeMs.push(await once(["-e", "0"]));
    }
    await new Promise((r) => server.close(r));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
    console.log(`taskwatch: spawn to first request ${median(cliMs).toFixed(0)} ms (median of 5; bare node -e 0 exits after ${median(nodeMs).toFixed(0)} ms)`);
    expect(cliMs.every((ms) => ms > 0)).toBe(true);
  });
});
