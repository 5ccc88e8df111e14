import { describe, expect, it } from "vitest";
import { withSubscriptions } from "../../lib/app/subscriptions";
import { labelsFrom } from "../../lib/domain/labels";
import { transition } from "../../lib/domain/lifecycle";
import { completeOutbox, matches, type Subscription } from "../../lib/domain/subscription";
import type { Watch } from "../../lib/domain/watch";

const AT = "2026-12-01T10:00:00.000Z";
const FAILED = JSON.stringify({ error_code: "APIG.1", error_msg: "no" });

function watch(patch: Partial<Watch> = {}): Watch {
  return {
    tenant: "acme", task_id: "t1", project_id: "p", instance_id: "i", region: "eu-de", status: "processing", task_type: "import_api",
    created_at: AT, updated_at: AT, finished_at: null, deadline_at: "2026-12-02T10:00:00.000Z", history: [], result: null, last_error: null,
    not_found_since: null, labels: labelsFrom([["env", "prod"], ["constructor", "x"]]), targets: [], event_id: null, version: 1, ...patch,
  };
}
function sub(name: string, match: Subscription["match"], url = `https://hooks.example/${name}`, tenant = "acme"): Subscription {
  return { tenant, name, match, targets: [{ type: "slack", url }], created_at: AT };
}
const failed = (w: Watch) => transition(w, { type: "observed", observation: { ok: true, status: "failed", task_type: "import_api", task_result: FAILED } }, new Date(AT), { notFoundGraceMs: 0 });

describe("subscription matching", () => {
  const done = failed(watch()).next;
  it("by outcome, task type and labels (any label name, even constructor); empty lists match anything", () => {
    expect(matches(sub("a", {}), done)).toBe(true);
    expect(matches(sub("a", { outcome: ["failed"] }), done)).toBe(true);
    expect(matches(sub("a", { outcome: ["partial", "succeeded"] }), done)).toBe(false);
    expect(matches(sub("a", { task_type: ["export_api"] }), done)).toBe(false);
    expect(matches(sub("a", { labels: labelsFrom([["env", "prod"], ["constructor", "x"]]) }), done)).toBe(true);
    expect(matches(sub("a", { labels: labelsFrom([["env", "dev"]]) }), done)).toBe(false);
    expect(matches(sub("a", { labels: labelsFrom([["toString", ""]]) }), done)).toBe(false);
    // A running or cancelled watch matches nothing.
    expect(matches(sub("a", {}), watch())).toBe(false);
    expect(matches(sub("a", {}), { ...done, status: "cancelled" })).toBe(false);
  });

  it("completeOutbox adds each matching destination once, after the registration's own, and never another tenant's", () => {
    const own = { id: "t0", type: "slack" as const, url: "https://hooks.example/same", state: "pending" as const, attempts: 0, last_error: null, next_attempt_at: 1, delivered_at: null, attempts_log: [] };
    const w = completeOutbox({ ...done, targets: [own] }, [
      sub("a", {}, "https://hooks.example/same"),
      sub("b", { outcome: ["failed"] }, "https://hooks.example/b"),
      sub("c", { outcome: ["failed"] }, "https://hooks.example/b"),
      sub("d", {}, "https://hooks.example/d", "other"),
      sub("e", { outcome: ["succeeded"] }, "https://hooks.example/e"),
    ]);
    expect(w.targets.map((t) => [t.id, t.url, t.subscription])).toEqual([
      ["t0", "https://hooks.example/same", undefined],
      ["t1", "https://hooks.example/b", "b"],
    ]);
    expect(w.targets[1]).toMatchObject({ state: "pending", next_attempt_at: Date.parse(AT) });
  });
});

describe("withSubscriptions at the terminal transition", () => {
  it("reads the tenant's subscriptions only for a transition into a terminal state, and turns on delivery when they add a target", async () => {
    let reads = 0;
    const repo = { create: async () => ({ created: true as const }), delete: async () => true, list: async () => (reads++, [sub("a", {})]) };
    const running = transition(watch({ status: "registered" }), { type: "observed", observation: { ok: true, status: "processing", task_type: "import_api", task_result: "" } }, new Date(AT), { notFoundGraceMs: 0 });
    expect(await withSubscriptions(repo, watch({ status: "registered" }), running)).toBe(running);
    expect(reads).toBe(0);
    const before = watch();
    const t = failed(before);
    expect(t.effects).toEqual([]);
    const out = await withSubscriptions(repo, before, t);
    expect(reads).toBe(1);
    expect(out.effects).toEqual([{ type: "deliver" }]);
    expect(out.next.targets).toHaveLength(1);
  });

  it("a failed read throws, so the terminal write does not happen without the subscriptions (the next poll tries again)", async () => {
    const repo = { create: async () => ({ created: true as const }), delete: async () => true, list: async (): Promise<Subscription[]> => { throw new Error("table down"); } };
    await expect(withSubscriptions(repo, watch(), failed(watch()))).rejects.toThrow("table down");
  });
});
