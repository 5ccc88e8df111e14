// @ts-check
/**
 * What the CLI prints: a watch as a short human summary, and progress while
 * waiting, as one live line on a terminal or one line per change in CI logs.
 */

/** @typedef {import("./api.mjs").Watch} Watch */

/**
 * Seconds as `1h02m`, `3m05s`, `12s`.
 * @param {number} ms
 */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * `n thing` or `n things`.
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** Codes of APIG or IAM refusing the credentials (as `lib/app/region-health.ts` sorts them). */
const AUTH_CODES = new Set(["APIG.1000", "APIG.1001", "APIG.1002", "APIC.7101", "iam_unauthorized", "auth_failed"]);

/**
 * Why waiting longer cannot help, or null: the watch is still `registered`
 * and APIG has refused the credentials (or not answered at all) for `limitMs`.
 * @param {Watch} w
 * @param {number} nowMs
 * @param {number} limitMs
 */
export function accessFaultFor(w, nowMs, limitMs) {
  const e = w.last_error;
  if (w.status !== "registered" || !e) return null;
  const auth = e.http_status === 401 || AUTH_CODES.has(e.code);
  const unreachable = e.http_status === null;
  if (!auth && !unreachable) return null;
  const since = Date.parse(e.since ?? e.at);
  const lasted = Math.max(nowMs, Date.parse(e.at)) - since;
  if (!(lasted >= limitMs)) return null;
  const what = auth ? "APIG has refused the credentials" : "APIG has been unreachable";
  return `${what} for ${Math.round(lasted / 1000)} s: ${e.code} ${e.message}`;
}

/**
 * A watch in a few lines: id, type, status or outcome, counts, failures, notifications.
 * @param {Watch} w
 */
export function summary(w) {
  const state = w.outcome ?? w.status;
  const took = w.finished_at ? ` in ${duration(Date.parse(w.finished_at) - Date.parse(w.created_at))}` : "";
  const lines = [`${w.task_id}  ${w.task_type ?? "task"}  ${state}${took}`];
  const r = w.result;
  if (r?.kind === "import") {
    lines.push(`  imported: ${r.success_count} ok, ${r.failure_count} failed, ${r.ignore_count} ignored${r.group_id ? ` (group ${r.group_id})` : ""}`);
    for (const f of (r.failure ?? []).slice(0, 10)) lines.push(`  failed: ${f.method ?? "?"} ${f.path ?? "?"}: ${f.error_code ?? ""} ${f.error_msg ?? ""}`.trimEnd());
  } else if (r?.kind === "export") {
    lines.push(`  exported: ${r.file_name ?? "(no name)"}${r.file_type ?? ""}, ${r.content_chars} characters`);
  } else if (r?.kind === "failure") {
    lines.push(`  APIG: ${r.error_code ?? ""} ${r.error_msg ?? ""}`.trimEnd());
  } else if (r?.kind === "raw") {
    lines.push(`  APIG result (not JSON): ${String(r.raw).slice(0, 200)}`);
  }
  if (w.last_error) lines.push(`  last APIG error: ${w.last_error.code} ${w.last_error.message}`);
  for (const t of w.notify ?? []) {
    lines.push(`  notify ${t.id} ${t.type} ${t.url}: ${t.state} after ${plural(t.attempts, "try", "tries")}${t.last_error ? ` (${t.last_error})` : ""}`);
  }
  return lines.join("\n");
}

const SPINNER = ["|", "/", "-", "\\"];

/**
 * Progress while waiting. On a terminal one line, redrawn every second; in
 * a log (not a TTY) one plain line each time the status changes.
 * @param {NodeJS.WriteStream} out
 */
export function progress(out) {
  const tty = out.isTTY === true;
  const started = Date.now();
  let last = "";
  let lastError = "";
  let frame = 0;
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const draw = () => {
    out.write(`\r\x1b[2K${SPINNER[frame++ % SPINNER.length]} ${last}  ${duration(Date.now() - started)}`);
  };
  return {
    /** @param {Watch} w */
    update(w) {
      const line = `${w.task_id}  ${w.status}`;
      // A new last_error is printed as soon as it is seen: it is usually why a watch does not move.
      const err = w.last_error ? `${w.last_error.code} ${w.last_error.message}` : "";
      if (err !== lastError) {
        lastError = err;
        if (err !== "") out.write(`${tty ? "\r\x1b[2K" : ""}${new Date().toISOString()}  ${w.task_id}  last error: ${err}\n`);
      }
      if (tty) {
        last = line;
        draw();
        timer ??= setInterval(draw, 1000);
      } else if (line !== last) {
        last = line;
        out.write(`${new Date().toISOString()}  ${line}\n`);
      }
    },
    done() {
      if (timer) clearInterval(timer);
      if (tty && last !== "") out.write("\r\x1b[2K");
    },
  };
}
