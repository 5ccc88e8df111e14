#!/usr/bin/env node
// @ts-check
/**
 * `taskwatch`: the apig-taskwatch command line for pipelines. Plain ES
 * modules that node runs as they are (no build step, nothing to go stale),
 * type-checked by `tsc` through JSDoc; Node built-ins only, so it starts in
 * well under 300 ms. Errors are one line on stderr, never a stack trace.
 */
import { accessSync, constants, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { call, CliError, downloadExport, EXIT, monitorConn, monitorLinks } from "./api.mjs";
import { helpText, many, optional, parseCommandLine, required, seconds, UsageError } from "./args.mjs";
import { listen } from "./listen.mjs";
import { accessFaultFor, plural, progress, summary } from "./render.mjs";
import { importCases, importMarkdown, lintCases, lintMarkdown, writeReports } from "./reports.mjs";
import { pairsOf, targetsOf } from "./targets.mjs";

/** The largest spec file the service takes (docs/api.md: up to 5 MiB), checked here before any upload. */
export const MAX_SPEC_BYTES = 5 * 1024 * 1024;

/** How long `wait` lets APIG refuse the credentials (or be unreachable) on a `registered` watch before exit 5. */
const ACCESS_FAULT_LIMIT_MS = 60_000;

/** @typedef {import("./api.mjs").Watch} Watch */
/** @typedef {import("./args.mjs").Invocation} Invocation */
/** @typedef {{ url: string, apiKey: string | undefined }} Conn */

/** Exit code of a finished watch. @param {Watch} w */
function exitFor(w) {
  if (w.outcome === "succeeded") return EXIT.ok;
  if (w.outcome === "partial") return EXIT.partial;
  return EXIT.failed;
}

/** @param {Invocation} inv @param {unknown} value */
function print(inv, value) {
  process.stdout.write(inv.json ? `${JSON.stringify(value, null, 2)}\n` : `${typeof value === "string" ? value : JSON.stringify(value)}\n`);
}

/**
 * Follow a watch until it ends or `timeoutS` runs out, reading it at the
 * rhythm the service gives (`Retry-After`: when the watch will have been
 * polled again), with `?wait=0`, which answers at once and tells the service
 * a client is waiting (it then polls the watch every 2 s). Waiting costs a
 * few milliseconds of the API per read, never a function held open. Blips
 * (the service restarting, a 502) are retried for a minute before giving up.
 * When APIG has refused the credentials or been unreachable for a minute
 * while the watch is still `registered`, waiting cannot help: exit 5 naming
 * APIG's code (the watch itself goes on).
 * @param {Conn} conn
 * @param {Watch} first the watch as last read
 * @param {number | undefined} timeoutS
 * @returns {Promise<{ watch: Watch, done: boolean }>}
 */
async function follow(conn, first, timeoutS) {
  const taskId = first.task_id;
  const until = timeoutS === undefined ? Infinity : Date.now() + timeoutS * 1000;
  const show = progress(process.stderr);
  show.update(first);
  let failingSince = 0;
  let pause = 1000;
  /** Seconds until the next read, as the service said; 2 s until it says. */
  let rhythmS = 2;
  /** Where reads go: the service's read URL once an answer names it (`Link: rel="monitor"`), else the API. */
  let reads = monitorConn(conn, monitorLinks.get(first) ?? null, taskId) ?? conn;
  let monitorFailed = false;
  const retryAfter = (/** @type {Headers} */ h) => {
    const s = Number(h.get("retry-after"));
    rhythmS = Number.isFinite(s) && s >= 1 ? Math.min(60, s) : 2;
    if (reads === conn && !monitorFailed) reads = monitorConn(conn, h.get("link"), taskId) ?? conn;
  };
  const sleep = (/** @type {number} */ ms) => new Promise((ok) => setTimeout(ok, Math.max(0, Math.min(ms, until - Date.now()))));
  try {
    for (let w = first; ; ) {
      const fault = accessFaultFor(w, Date.now(), ACCESS_FAULT_LIMIT_MS);
      if (fault) throw new CliError(`${fault}; the watch goes on (taskwatch wait ${taskId})`, EXIT.unreachable);
      try {
        w = await call(reads, "GET", `/tasks/${encodeURIComponent(taskId)}?wait=0`, { headers: retryAfter });
        failingSince = 0;
        pause = 1000;
      } catch (err) {
        if (reads !== conn) {
          // The read URL failed (blocked by a proxy, say): the API answers the same reads.
          reads = conn;
          monitorFailed = true;
          continue;
        }
        if (!(err instanceof CliError) || !err.transient) throw err;
        failingSince ||= Date.now();
        if (Date.now() - failingSince > 60_000 || Date.now() + pause > until) throw err;
        await sleep(pause);
        pause = Math.min(pause * 2, 10_000);
        continue;
      }
      show.update(w);
      if (w.outcome !== null && w.outcome !== undefined) return { watch: w, done: true };
      if (Date.now() >= until) return { watch: w, done: false };
      await sleep(rhythmS * 1000);
    }
  } finally {
    show.done();
  }
}

/**
 * The end of a command that may wait: print the watch and choose the exit code.
 * @param {Invocation} inv
 * @param {Conn} conn
 * @param {Watch} w
 * @param {{ wait: boolean, timeoutS?: number, onDone?: (w: Watch) => void | Promise<void>, onEnd?: (w: Watch, done: boolean) => void }} opts
 */
async function finish(inv, conn, w, opts) {
  if (!opts.wait) {
    print(inv, inv.json ? w : summary(w));
    return EXIT.ok;
  }
  const r = w.outcome != null ? { watch: w, done: true } : await follow(conn, w, opts.timeoutS);
  print(inv, inv.json ? r.watch : summary(r.watch));
  opts.onEnd?.(r.watch, r.done);
  if (!r.done) {
    process.stderr.write(`taskwatch: ${r.watch.task_id} still ${r.watch.status} after ${opts.timeoutS} s\n`);
    return EXIT.still_running;
  }
  await opts.onDone?.(r.watch);
  return exitFor(r.watch);
}

/** The notify, labels and timeout_s of a command that creates a watch. @param {import("./args.mjs").Values} v */
function watchOptions(v) {
  const notify = targetsOf(v);
  const labels = pairsOf(many(v, "label"), "label");
  const timeout = seconds(v, "timeout");
  const region = optional(v, "region");
  return {
    project_id: required(v, "project"),
    instance_id: required(v, "instance"),
    ...(region !== undefined ? { region } : {}),
    ...(notify.length > 0 ? { notify } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(timeout !== undefined ? { timeout_s: timeout } : {}),
  };
}

/**
 * The spec file as the body field that carries it, refused before any upload when it is over the limit
 * (the limit is the file's own size, whatever the transport makes of it).
 * @param {string} file
 */
function readSpecFile(file) {
  let size;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${err instanceof Error && "code" in err ? err.code : "unreadable"}`);
  }
  if (size > MAX_SPEC_BYTES) throw new UsageError(`${file} is ${size} bytes; the spec limit is 5 MiB (${MAX_SPEC_BYTES} bytes)`);
  try {
    // Sent gzip-compressed: JSON escaping could otherwise push a 5 MiB file past the body limit.
    return { spec_gzip: gzipSync(readFileSync(file)).toString("base64") };
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${err instanceof Error && "code" in err ? err.code : "unreadable"}`);
  }
}

/** The group options of an import or a lint. @param {import("./args.mjs").Values} v */
function groupFields(v) {
  if (v.group !== undefined && v["create-group"] === true) throw new UsageError("give --group G or --create-group, not both");
  const group = optional(v, "group");
  return {
    ...(group !== undefined ? { group_id: group, is_create_group: false } : {}),
    ...(v["create-group"] === true ? { is_create_group: true } : {}),
  };
}

/**
 * Print the gate's findings as `file:line:col severity rule message` (or the check as JSON).
 * @param {Invocation} inv
 * @param {string} file
 * @param {any} check
 * @returns {number} 0 when no error, 6 otherwise
 */
function printCheck(inv, file, check) {
  /** @type {Array<{ severity: string, rule: string, line: number, column: number, message: string }>} */
  const findings = check?.findings ?? [];
  if (inv.json) {
    print(inv, check);
  } else {
    for (const f of findings) process.stdout.write(`${file}:${f.line}:${f.column} ${f.severity} ${f.rule} ${f.message}\n`);
    const errors = findings.filter((f) => f.severity === "error").length;
    const warnings = findings.length - errors;
    const conv = check?.converted_from ? `, converted from OpenAPI ${check.converted_from} to ${check.version}` : "";
    process.stderr.write(`taskwatch: ${file}: ${plural(check?.apis ?? 0, "API")}, ${plural(errors, "error")}, ${plural(warnings, "warning")}${conv}\n`);
  }
  return check?.ok ? EXIT.ok : EXIT.rejected;
}

/** Fail now, before anything is submitted, when `out` cannot be written. @param {string} out */
function checkWritable(out) {
  const dir = dirname(resolve(out));
  try {
    if (!statSync(dir).isDirectory()) throw new Error("ENOTDIR");
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new UsageError(`--out ${out}: cannot write in ${dir} (${err instanceof Error && "code" in err ? err.code : err instanceof Error ? err.message : "unwritable"})`);
  }
  try {
    if (statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a directory`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
  }
}

/** @param {Invocation} inv @returns {Promise<number>} */
async function run(inv) {
  const conn = { url: inv.url, apiKey: inv.apiKey };
  const v = inv.values;
  const id = () => encodeURIComponent(inv.positionals[0] ?? "");
  switch (inv.command) {
    case "help":
      process.stdout.write(`${helpText()}\n`);
      return EXIT.ok;
    case "version":
      process.stdout.write(`${JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")).version}\n`);
      return EXIT.ok;
    case "listen": {
      const port = optional(v, "port") ?? "4000";
      if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new UsageError("--port must be a port number");
      return listen({ port: Number(port), host: optional(v, "host") ?? "127.0.0.1", secret: optional(v, "secret"), json: inv.json });
    }
    case "register": {
      const timeoutS = seconds(v, "wait-timeout");
      const w = await call(conn, "POST", "/tasks", { body: { ...watchOptions(v), task_id: required(v, "task") } });
      return finish(inv, conn, w, { wait: v.wait === true, timeoutS });
    }
    case "wait": {
      const timeoutS = seconds(v, "timeout");
      return finish(inv, conn, await call(conn, "GET", `/tasks/${id()}`), { wait: true, timeoutS });
    }
    case "lint": {
      const file = inv.positionals[0] ?? "";
      const spec = readSpecFile(file);
      const body = { project_id: optional(v, "project") ?? "lint", instance_id: optional(v, "instance") ?? "lint", ...spec, ...groupFields(v) };
      return printCheck(inv, file, await call(conn, "POST", "/imports/check", { body, timeoutMs: 60_000 }));
    }
    case "import": {
      const file = required(v, "file");
      const fields = groupFields(v);
      const spec = readSpecFile(file);
      const junit = optional(v, "junit");
      if (junit !== undefined) checkWritable(junit);
      const body = {
        ...watchOptions(v),
        ...spec,
        file_name: optional(v, "file-name") ?? basename(file).replace(/[^A-Za-z0-9_.-]/g, "_").slice(-128),
        ...fields,
        ...(v["extend-mode"] !== undefined ? { extend_mode: v["extend-mode"] } : {}),
        ...(v["api-mode"] !== undefined ? { api_mode: v["api-mode"] } : {}),
        ...(v["simple-mode"] === true ? { simple_mode: true } : {}),
        ...(v["mock-mode"] === true ? { mock_mode: true } : {}),
      };
      if (v["dry-run"] === true) return printCheck(inv, file, await call(conn, "POST", "/imports/check", { body, timeoutMs: 60_000 }));
      const timeoutS = seconds(v, "wait-timeout");
      const group = optional(v, "group") ?? "new-group";
      /** @type {Watch} */
      let w;
      try {
        w = await call(conn, "POST", "/imports", { body, timeoutMs: 60_000 });
      } catch (err) {
        if (!(err instanceof CliError) || err.exitCode !== EXIT.rejected) throw err;
        // The gate refused the spec: the findings, the reports, exit 6.
        printCheck({ ...inv, json: false }, file, err.details);
        const findings = err.details?.findings ?? [];
        writeReports({ junit, env: process.env, suite: `import ${file}`, cases: lintCases(file, findings), outputs: { task_id: "", status: "rejected", outcome: "rejected" }, markdown: lintMarkdown(file, findings) });
        throw err;
      }
      const reports = junit !== undefined || process.env.GITHUB_STEP_SUMMARY || process.env.GITHUB_OUTPUT;
      return finish(inv, conn, w, {
        wait: v.wait === true || junit !== undefined,
        timeoutS,
        onEnd: (done) => {
          if (!reports) return;
          writeReports({ junit, env: process.env, suite: `import ${file}`, cases: importCases(done, group), outputs: { task_id: done.task_id, status: done.status, outcome: done.outcome ?? "running" }, markdown: importMarkdown(done) });
        },
      });
    }
    case "export": {
      const out = optional(v, "out");
      if (out !== undefined) checkWritable(out);
      const apis = many(v, "api");
      const body = {
        ...watchOptions(v),
        group_id: required(v, "group"),
        env_id: required(v, "env"),
        ...(v.define !== undefined ? { define: v.define } : {}),
        ...(v.type !== undefined ? { type: v.type } : {}),
        ...(v.version !== undefined ? { version: v.version } : {}),
        ...(v["oas-version"] !== undefined ? { oas_version: v["oas-version"] } : {}),
        ...(apis.length > 0 ? { apis } : {}),
      };
      const timeoutS = seconds(v, "wait-timeout");
      const w = await call(conn, "POST", "/exports", { body, timeoutMs: 60_000 });
      // --out needs the document, so it waits.
      return finish(inv, conn, w, {
        wait: v.wait === true || out !== undefined,
        timeoutS,
        onDone: async (done) => {
          if (out === undefined || done.outcome !== "succeeded") return;
          const r = done.result;
          if (r?.kind !== "export") throw new CliError("the finished export carries no document", EXIT.failed);
          // The whole document, checked against its SHA-256; a watch without a stored one (stored before) still has it whole when it is short.
          /** @type {Buffer} */
          let content;
          if (r.chunks !== undefined) content = await downloadExport(conn, done.task_id, r.sha256);
          else if (!r.truncated && typeof r.content === "string") content = Buffer.from(r.content, "utf8");
          else throw new CliError(`the service kept only the first ${r.content?.length ?? 0} of ${r.content_chars} characters of this export, so ${out} was not written`, EXIT.failed);
          writeFileSync(out, content);
          process.stderr.write(`taskwatch: wrote ${out} (${plural(content.length, "byte")}${r.sha256 ? `, SHA-256 ${r.sha256}` : ""})\n`);
        },
      });
    }
    case "get":
      print(inv, inv.json ? await call(conn, "GET", `/tasks/${id()}`) : summary(await call(conn, "GET", `/tasks/${id()}`)));
      return EXIT.ok;
    case "list":
      return list(inv, conn);
    case "cancel":
      print(inv, inv.json ? await call(conn, "DELETE", `/tasks/${id()}`) : summary(await call(conn, "DELETE", `/tasks/${id()}`)));
      return EXIT.ok;
    case "subscribe": {
      const notify = targetsOf(v);
      if (notify.length === 0) throw new UsageError("name at least one target (--slack, --teams, --pagerduty, ...)");
      const outcome = many(v, "outcome");
      const taskType = many(v, "task-type");
      const labels = pairsOf(many(v, "label"), "label");
      const match = {
        ...(outcome.length > 0 ? { outcome } : {}),
        ...(taskType.length > 0 ? { task_type: taskType } : {}),
        ...(Object.keys(labels).length > 0 ? { labels } : {}),
      };
      const s = await call(conn, "POST", "/subscriptions", { body: { name: inv.positionals[0], match, notify } });
      print(inv, inv.json ? s : subscriptionLine(s));
      return EXIT.ok;
    }
    case "subscriptions": {
      const page = await call(conn, "GET", "/subscriptions");
      /** @type {Subscription[]} */
      const items = page.items;
      print(inv, inv.json ? page : items.map(subscriptionLine).join("\n") || "(no subscriptions)");
      return EXIT.ok;
    }
    case "unsubscribe":
      await call(conn, "DELETE", `/subscriptions/${id()}`);
      print(inv, inv.json ? { deleted: inv.positionals[0] } : `deleted ${inv.positionals[0]}`);
      return EXIT.ok;
    case "test-target": {
      const targets = targetsOf(v);
      if (targets.length !== 1) throw new UsageError("name exactly one target to test");
      const r = await call(conn, "POST", "/targets/test", { body: { target: targets[0] }, timeoutMs: 30_000 });
      print(inv, inv.json ? r : `delivered: the receiver answered HTTP ${r.status} in ${r.duration_ms} ms`);
      return EXIT.ok;
    }
    case "redeliver": {
      const targets = many(v, "target");
      const w = await call(conn, "POST", `/tasks/${id()}/redeliver`, { body: targets.length > 0 ? { targets } : {} });
      print(inv, inv.json ? w : summary(w));
      return EXIT.ok;
    }
  }
}

/**
 * @typedef {{ name: string, match: { outcome?: string[], task_type?: string[], labels?: Record<string, string> },
 *   notify: Array<{ type: string, url: string }> }} Subscription
 */

/** One line per subscription: name, what it matches, where it sends. @param {Subscription} s */
function subscriptionLine(s) {
  const m = s.match;
  const what = [
    m.outcome?.length ? `outcome=${m.outcome.join("|")}` : "",
    m.task_type?.length ? `task_type=${m.task_type.join("|")}` : "",
    ...Object.entries(m.labels ?? {}).map(([k, val]) => `${k}=${val}`),
  ].filter(Boolean);
  return `${s.name}  ${what.join(" ") || "(every finished watch)"}  -> ${s.notify.map((t) => `${t.type} ${t.url}`).join(", ")}`;
}

const OUTCOMES = ["succeeded", "partial", "failed", "timed_out", "not_found", "error", "cancelled", "running"];

/**
 * `list`: one page (or every page with `--all`), optionally only one outcome.
 * @param {Invocation} inv
 * @param {Conn} conn
 */
async function list(inv, conn) {
  const v = inv.values;
  const outcome = optional(v, "outcome");
  if (outcome !== undefined && !OUTCOMES.includes(outcome)) throw new UsageError(`--outcome must be one of: ${OUTCOMES.join(", ")}`);
  if (v.all === true && v.cursor !== undefined) throw new UsageError("give --cursor C or --all, not both");
  const q = new URLSearchParams();
  for (const k of ["status", "limit", "cursor"]) {
    const val = optional(v, k);
    if (val !== undefined) q.set(k, val);
  }
  /** @type {Watch[]} */
  const items = [];
  /** @type {string | null} */
  let next = null;
  for (;;) {
    const page = await call(conn, "GET", `/tasks${q.size > 0 ? `?${q}` : ""}`);
    items.push(...page.items);
    next = page.next_cursor;
    if (v.all !== true || next === null) break;
    q.set("cursor", next);
  }
  const shown = outcome === undefined ? items : items.filter((w) => (w.outcome ?? "running") === outcome);
  if (inv.json) {
    print(inv, { items: shown, next_cursor: v.all === true ? null : next });
  } else {
    print(inv, shown.map((w) => `${w.task_id}  ${w.task_type ?? "-"}  ${w.outcome ?? w.status}  ${w.created_at}`).join("\n") || "(no watches)");
    if (v.all !== true && next !== null) process.stderr.write(`taskwatch: more watches: taskwatch list --cursor ${next} (or --all)\n`);
  }
  return EXIT.ok;
}

async function main() {
  try {
    process.exitCode = await run(parseCommandLine(process.argv.slice(2), process.env));
  } catch (err) {
    const code = err instanceof CliError ? err.exitCode : err instanceof UsageError ? EXIT.usage : EXIT.failed;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`taskwatch: ${message.split("\n")[0]}\n`);
    if (err instanceof UsageError && err.help) process.stderr.write(`${helpText()}\n`);
    process.exitCode = code;
  }
}

await main();
