/**
 * The storm: `npm start` (poller running, simulator, dynalite) under
 * concurrent ordinary use for STORM_S seconds (default 60): 3 tenants
 * register (including 10 concurrent registrations of one id), list with
 * paging, read, long-poll (?wait=), cancel, redeliver, and send garbage. It
 * passes with 0 crashes, 0 connection resets, 0 answers of 500 or more other
 * than 503 (retryable by contract), and every acknowledged registration
 * present and listed exactly once. Prints requests/s, answers by status and
 * the acknowledged registrations found.
 *
 *   STORM_S=60 npx vitest run test/e2e/storm.test.ts
 */
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, startStack, stopStack } from "../../infra/dev/local/stack-process";

const STORM_S = Number(process.env.STORM_S ?? 60);
const TENANTS = ["alpha", "beta", "gamma"].map((name) => ({ name, key: `storm-${name}-${randomBytes(8).toString("hex")}` }));
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

let child: ChildProcess | undefined;
const dataDir = mkdtempSync(join(tmpdir(), "taskwatch-storm-"));
const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await agent.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Tally {
  requests: number;
  byStatus: Record<string, number>;
  resets: number;
  errors: string[];
  bad5xx: string[];
}

describe("storm against npm start", () => {
  it(`survives ${STORM_S} s of concurrent registrations, listings, reads, long-polls, cancels, redeliveries and garbage`, async () => {
    const app = await startStack(
      cleanEnv({ DATA_DIR: dataDir, API_KEYS: TENANTS.map((t) => `${t.name}:${sha(t.key)}`).join(","), ALLOW_PRIVATE_TARGETS: "true" }),
    );
    child = app.proc;
    const tally: Tally = { requests: 0, byStatus: {}, resets: 0, errors: [], bad5xx: [] };
    const acked = new Map<string, Set<string>>(TENANTS.map((t) => [t.name, new Set<string>()]));

    const call = async (method: string, path: string, key: string | null, body?: string, headers: Record<string, string> = {}) => {
      tally.requests++;
      try {
        const res = await request(app.url + path, {
          method: method as "GET",
          dispatcher: agent,
          headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
          ...(body !== undefined ? { body } : {}),
        });
        const text = await res.body.text();
        tally.byStatus[res.statusCode] = (tally.byStatus[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 500 && res.statusCode !== 503) tally.bad5xx.push(`${method} ${path.slice(0, 60)} -> ${res.statusCode} ${text.slice(0, 120)}`);
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = null;
        }
        return { status: res.statusCode, json: json as Record<string, unknown> | null };
      } catch (err) {
        const code = (err as { code?: string }).code ?? String(err);
        if (/ECONNRESET|UND_ERR_SOCKET|ECONNREFUSED|EPIPE/.test(code)) tally.resets++;
        tally.errors.push(`${method} ${path.slice(0, 60)}: ${code}`);
        return { status: 0, json: null };
      }
    };

    const until = Date.now() + STORM_S * 1000;
    const running = () => Date.now() < until && child!.exitCode === null;
    const reg = (id: string) => JSON.stringify({ project_id: "storm-project", instance_id: "storm-instance", task_id: id });
    let seq = 0;

    const registrar = async (t: (typeof TENANTS)[number]) => {
      while (running()) {
        const id = `${t.name}-${seq++}${seq % 7 === 0 ? "-fail" : ""}`;
        const r = await call("POST", "/tasks", t.key, reg(id));
        if (r.status === 201 || r.status === 200) acked.get(t.name)!.add(id);
      }
    };
    const samePair = async (t: (typeof TENANTS)[number]) => {
      for (let round = 0; running(); round++) {
        const id = `${t.name}-same-${round}`;
        const answers = await Promise.all(Array.from({ length: 10 }, () => call("POST", "/tasks", t.key, reg(id))));
        if (answers.some((a) => a.status === 201 || a.status === 200)) acked.get(t.name)!.add(id);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const lister = async (t: (typeof TENANTS)[number]) => {
      while (running()) {
        let cursor: string | null = null;
        for (let page = 0; page < 20 && running(); page++) {
          const r = await call("GET", `/tasks?limit=${1 + (page % 9)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, t.key);
          cursor = (r.json?.next_cursor as string | null) ?? null;
          if (!cursor) break;
        }
      }
    };
    const reader = async (t: (typeof TENANTS)[number]) => {
      for (let i = 0; running(); i++) {
        const ids = [...acked.get(t.name)!];
        const id = ids[Math.floor(Math.random() * ids.length)] ?? "none";
        if (i % 5 === 0) await call("GET", `/tasks/${id}?wait=1`, t.key);
        else if (i % 5 === 1) await call("DELETE", `/tasks/${id}`, t.key);
        else if (i % 5 === 2) await call("POST", `/tasks/${id}/redeliver`, t.key, "{}");
        else await call("GET", `/tasks/${id}`, t.key);
      }
    };
    const garbage = async () => {
      const junk: Array<[string, string, string | null, string | undefined]> = [
        ["POST", "/tasks", TENANTS[0]!.key, "{not json"],
        ["POST", "/tasks", TENANTS[1]!.key, JSON.stringify({ project_id: 1, task_id: ["x"] })],
        ["POST", "/tasks", null, reg("nokey")],
        ["POST", "/tasks", "wrong-key", reg("wrongkey")],
        ["GET", "/tasks?cursor=Zm9yZ2Vk&limit=5", TENANTS[2]!.key, undefined],
        ["GET", "/tasks?limit=-1", TENANTS[0]!.key, undefined],
        ["GET", "/tasks/%E0%A4%A", TENANTS[0]!.key, undefined],
        ["GET", "/tasks/x?wait=abc", TENANTS[1]!.key, undefined],
        ["PATCH", "/tasks", TENANTS[1]!.key, "{}"],
        ["GET", "/../../etc/passwd", null, undefined],
        ["POST", "/imports", TENANTS[2]!.key, JSON.stringify({ project_id: "p", instance_id: "i", spec: "x".repeat(70_000) })],
      ];
      for (let i = 0; running(); i++) {
        const [m, p, k, b] = junk[i % junk.length]!;
        await call(m, p, k, b);
      }
    };

    const started = Date.now();
    await Promise.all(TENANTS.flatMap((t) => [registrar(t), samePair(t), lister(t), reader(t)]).concat([garbage()]));
    const elapsedS = (Date.now() - started) / 1000;
    const alive = child.exitCode === null && child.signalCode === null;

    // Every acknowledged registration is there and listed exactly once.
    const found: Record<string, { acked: number; listed: number; duplicates: number; missing: number }> = {};
    for (const t of TENANTS) {
      const seen = new Map<string, number>();
      let cursor: string | null = null;
      do {
        const r = await call("GET", `/tasks?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, t.key);
        expect(r.status).toBe(200);
        for (const w of (r.json!.items as Array<{ task_id: string }>)) seen.set(w.task_id, (seen.get(w.task_id) ?? 0) + 1);
        cursor = r.json!.next_cursor as string | null;
      } while (cursor);
      const mine = acked.get(t.name)!;
      found[t.name] = {
        acked: mine.size,
        listed: [...mine].filter((id) => seen.get(id) === 1).length,
        duplicates: [...seen.values()].filter((n) => n > 1).length,
        missing: [...mine].filter((id) => !seen.has(id)).length,
      };
    }

    const figures = {
      settings: { STORM_S, tenants: 3, workers: TENANTS.length * 4 + 1 },
      elapsed_s: Math.round(elapsedS),
      requests: tally.requests,
      requests_per_s: Math.round(tally.requests / elapsedS),
      answers_by_status: tally.byStatus,
      connection_resets: tally.resets,
      other_errors: tally.errors.length,
      crashed: !alive,
      acknowledged_registrations: found,
    };
    console.log(`storm figures: ${JSON.stringify(figures, null, 2)}`);

    expect(alive, app.output().slice(-2000)).toBe(true);
    expect(tally.resets, tally.errors.slice(0, 5).join("\n")).toBe(0);
    expect(tally.errors).toEqual([]);
    expect(tally.bad5xx).toEqual([]);
    expect(tally.byStatus["500"] ?? 0).toBe(0);
    for (const f of Object.values(found)) {
      expect(f.missing).toBe(0);
      expect(f.duplicates).toBe(0);
      expect(f.listed).toBe(f.acked);
      expect(f.acked).toBeGreaterThan(0);
    }
    expect(app.output()).not.toContain("uncaught_exception");
    expect(await stopStack({ proc: child, output: app.output })).toBe(true);
  }, STORM_S * 1000 + 120_000);
});
