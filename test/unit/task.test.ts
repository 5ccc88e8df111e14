import { describe, expect, it } from "vitest";
import { type ApigObservation, eventIdFor, normalizeApigStatus, transition } from "../../lib/domain/lifecycle";
import { parseTaskResult } from "../../lib/domain/task-result";
import { outcomeOf, type Watch, type WatchStatus } from "../../lib/domain/watch";

const T0 = new Date("2026-11-28T10:00:00.000Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const rules = { notFoundGraceMs: 600_000 };

function watch(patch: Partial<Watch> = {}): Watch {
  return {
    tenant: "acme",
    task_id: "d9ce8c9eede54b3f841ec324fe0bfdc2",
    project_id: "p1",
    instance_id: "i1",
    region: "eu-de",
    status: "registered",
    task_type: null,
    created_at: T0.toISOString(),
    updated_at: T0.toISOString(),
    finished_at: null,
    deadline_at: at(3600).toISOString(),
    history: [{ status: "registered", at: T0.toISOString() }],
    result: null,
    last_error: null,
    not_found_since: null,
    labels: {},
    targets: [
      { id: "t0", type: "slack", url: "https://hooks.slack.com/services/x", state: "pending", attempts: 0, last_error: null, next_attempt_at: null, delivered_at: null, attempts_log: [] },
    ],
    event_id: null,
    version: 3,
    ...patch,
  };
}

const ok = (status: string, task_result = "", task_type: string | null = "import_api"): ApigObservation => ({
  ok: true,
  status,
  task_type,
  task_result,
});
const fail = (category: "not_found" | "permanent" | "transient", code: string, http_status: number | null): ApigObservation => ({
  ok: false,
  category,
  code,
  message: `${code} message`,
  http_status,
});
const IMPORT_OK = JSON.stringify({ success: [{ id: "a", action: "create", method: "GET", path: "/x" }], failure: [], group_id: "g" });
const FAIL_RESULT = JSON.stringify({ error_code: "APIG.3201", error_msg: "The API group name already exists" });

interface Row {
  name: string;
  from: Partial<Watch>;
  obs: ApigObservation | "cancel";
  now: Date;
  status: WatchStatus;
  changed: boolean;
  deliver: boolean;
}

// One row per line of the lifecycle and the APIG error table (docs/api.md).
const rows: Row[] = [
  { name: "registered -> waiting", from: {}, obs: ok("waiting"), now: at(5), status: "waiting", changed: true, deliver: false },
  { name: "waiting -> processing", from: { status: "waiting" }, obs: ok("processing"), now: at(5), status: "processing", changed: true, deliver: false },
  { name: "waiting, no news: no write", from: { status: "waiting", task_type: "import_api" }, obs: ok("waiting"), now: at(5), status: "waiting", changed: false, deliver: false },
  { name: "processing -> succeed", from: { status: "processing" }, obs: ok("succeed", IMPORT_OK), now: at(5), status: "succeed", changed: true, deliver: true },
  { name: "'succeeded' read as succeed", from: { status: "processing" }, obs: ok("succeeded", IMPORT_OK), now: at(5), status: "succeed", changed: true, deliver: true },
  { name: "registered -> failed directly", from: {}, obs: ok("failed", FAIL_RESULT), now: at(5), status: "failed", changed: true, deliver: true },
  { name: "still processing past the deadline -> timed_out", from: { status: "processing", task_type: "import_api" }, obs: ok("processing"), now: at(3600), status: "timed_out", changed: true, deliver: true },
  { name: "succeeds after the deadline: the outcome wins", from: { status: "processing" }, obs: ok("succeed", IMPORT_OK), now: at(7200), status: "succeed", changed: true, deliver: true },
  { name: "first 404 APIG.3093 records the streak", from: { status: "waiting" }, obs: fail("not_found", "APIG.3093", 404), now: at(5), status: "waiting", changed: true, deliver: false },
  { name: "404 within grace, seen under 30 s ago: no write", from: { status: "waiting", not_found_since: at(5).toISOString(), last_error: { code: "APIG.3093", message: "m", http_status: 404, at: at(5).toISOString() } }, obs: fail("not_found", "APIG.3093", 404), now: at(30), status: "waiting", changed: false, deliver: false },
  { name: "404 within grace, seen 30 s ago or more: last_error.at moves", from: { status: "waiting", not_found_since: at(5).toISOString(), last_error: { code: "APIG.3093", message: "m", http_status: 404, at: at(5).toISOString() } }, obs: fail("not_found", "APIG.3093", 404), now: at(300), status: "waiting", changed: true, deliver: false },
  { name: "404 past grace -> not_found", from: { status: "waiting", not_found_since: at(5).toISOString(), last_error: { code: "APIG.3093", message: "m", http_status: 404, at: at(5).toISOString() } }, obs: fail("not_found", "APIG.3093", 404), now: at(605), status: "not_found", changed: true, deliver: true },
  { name: "200 after 404s clears the streak", from: { status: "waiting", task_type: "import_api", not_found_since: at(5).toISOString(), last_error: { code: "APIG.3093", message: "m", http_status: 404, at: at(5).toISOString() } }, obs: ok("waiting"), now: at(30), status: "waiting", changed: true, deliver: false },
  { name: "400 -> error", from: { status: "waiting" }, obs: fail("permanent", "APIG.2001", 400), now: at(5), status: "error", changed: true, deliver: true },
  { name: "403 -> error", from: { status: "processing" }, obs: fail("permanent", "APIG.1005", 403), now: at(5), status: "error", changed: true, deliver: true },
  { name: "500 APIG.9008 first time: recorded", from: { status: "processing" }, obs: fail("transient", "APIG.9008", 500), now: at(5), status: "processing", changed: true, deliver: false },
  { name: "same transient again: no write", from: { status: "processing", last_error: { code: "APIG.9008", message: "m", http_status: 500, at: at(5).toISOString() } }, obs: fail("transient", "APIG.9008", 500), now: at(10), status: "processing", changed: false, deliver: false },
  { name: "other transient: recorded", from: { status: "processing", last_error: { code: "APIG.9008", message: "m", http_status: 500, at: at(5).toISOString() } }, obs: fail("transient", "timeout", null), now: at(10), status: "processing", changed: true, deliver: false },
  { name: "transient past the deadline -> timed_out", from: { status: "processing" }, obs: fail("transient", "http_503", 503), now: at(4000), status: "timed_out", changed: true, deliver: true },
  { name: "unknown task_status is a transient problem", from: { status: "waiting", task_type: "import_api" }, obs: ok("exploded"), now: at(5), status: "waiting", changed: true, deliver: false },
  { name: "cancel -> cancelled, no notification", from: { status: "processing" }, obs: "cancel", now: at(5), status: "cancelled", changed: true, deliver: false },
  { name: "terminal stays terminal", from: { status: "succeed", finished_at: at(1).toISOString() }, obs: ok("failed", FAIL_RESULT), now: at(5), status: "succeed", changed: false, deliver: false },
  { name: "cancel on terminal changes nothing", from: { status: "failed", finished_at: at(1).toISOString() }, obs: "cancel", now: at(5), status: "failed", changed: false, deliver: false },
];

describe("transition", () => {
  it.each(rows)("$name", (row) => {
    const w = watch(row.from);
    const t = transition(w, row.obs === "cancel" ? { type: "cancel" } : { type: "observed", observation: row.obs }, row.now, rules);
    expect(t.next.status).toBe(row.status);
    expect(t.changed).toBe(row.changed);
    expect(t.effects.some((e) => e.type === "deliver")).toBe(row.deliver);
    if (!row.changed) expect(t.next).toBe(w);
  });

  it("a terminal transition records history, finish time, event id and owes every target", () => {
    const t = transition(watch({ status: "processing" }), { type: "observed", observation: ok("succeed", IMPORT_OK) }, at(9), rules);
    expect(t.next.finished_at).toBe(at(9).toISOString());
    expect(t.next.history.at(-1)).toEqual({ status: "succeed", at: at(9).toISOString() });
    expect(t.next.event_id).toBe(eventIdFor(t.next, "succeed"));
    expect(t.next.targets.every((x) => x.state === "pending" && x.next_attempt_at === at(9).getTime())).toBe(true);
    expect(t.next.result).toMatchObject({ kind: "import", success_count: 1, group_id: "g" });
  });

  it("cancelled watches skip their targets", () => {
    const t = transition(watch(), { type: "cancel" }, at(2), rules);
    expect(t.next.targets.map((x) => x.state)).toEqual(["skipped"]);
    expect(t.next.event_id).toBeNull();
  });

  it("a failed task keeps the APIG error from task_result", () => {
    const t = transition(watch(), { type: "observed", observation: ok("failed", FAIL_RESULT) }, at(2), rules);
    expect(t.next.result).toEqual({ kind: "failure", error_code: "APIG.3201", error_msg: "The API group name already exists" });
  });

  it("a watch without targets finishes with no deliver effect", () => {
    const t = transition(watch({ targets: [] }), { type: "observed", observation: ok("succeed", IMPORT_OK) }, at(2), rules);
    expect(t.changed).toBe(true);
    expect(t.effects).toEqual([]);
  });

  it("the event id is stable and differs per outcome", () => {
    const w = watch();
    expect(eventIdFor(w, "succeed")).toBe(eventIdFor({ ...w }, "succeed"));
    expect(eventIdFor(w, "succeed")).not.toBe(eventIdFor(w, "failed"));
  });

  it("normalizes APIG status spellings", () => {
    expect(normalizeApigStatus("succeeded")).toBe("succeed");
    expect(normalizeApigStatus("SUCCEED")).toBe("succeed");
    expect(normalizeApigStatus("whatever")).toBeNull();
  });
});

describe("outcome", () => {
  const imp = (failures: number) => parseTaskResult(JSON.stringify({ success: [{ id: "a" }], failure: Array.from({ length: failures }, () => ({ error_code: "APIG.3301" })) }), "import_api");
  it.each([
    ["registered", null, null],
    ["processing", null, null],
    ["succeed", imp(0), "succeeded"],
    ["succeed", imp(2), "partial"],
    ["succeed", parseTaskResult('{"FileName":"f","Comment":"{}"}', "export_api"), "succeeded"],
    ["failed", null, "failed"],
    ["timed_out", null, "timed_out"],
    ["not_found", null, "not_found"],
    ["error", null, "error"],
    ["cancelled", null, "cancelled"],
  ] as const)("%s with %j -> %s", (status, result, want) => {
    expect(outcomeOf({ status, result })).toBe(want);
  });
});

describe("last_error.at is the latest try, since the first of the streak", () => {
  const refused = fail("transient", "APIG.1002", 401);
  it("moves with repeated tries (at most every 30 s, so a streak is not a write per poll), keeping since", () => {
    const first = transition(watch(), { type: "observed", observation: refused }, at(1), rules).next;
    expect(first.last_error).toMatchObject({ code: "APIG.1002", at: at(1).toISOString(), since: at(1).toISOString() });
    const soon = transition(first, { type: "observed", observation: refused }, at(10), rules);
    expect(soon.changed).toBe(false);
    const later = transition(first, { type: "observed", observation: refused }, at(31), rules);
    expect(later.changed).toBe(true);
    expect(later.next.last_error).toMatchObject({ at: at(31).toISOString(), since: at(1).toISOString() });
    const other = transition(later.next, { type: "observed", observation: fail("transient", "timeout", null) }, at(32), rules);
    expect(other.next.last_error).toMatchObject({ code: "timeout", at: at(32).toISOString(), since: at(32).toISOString() });
  });
});
