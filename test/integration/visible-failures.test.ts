/**
 * Failures are visible: wrong credentials or an unreachable endpoint show on
 * the watch (`last_error`), in one log line per region every few minutes with
 * APIG's code, in the fault counter, and as `degraded` on `GET /health`,
 * which the poller's persisted health feeds; never with a secret.
 */
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { cachedHealth } from "../../lib/app/health-report";
import { countingFaults } from "../../lib/app/region-health";
import { handleHttp } from "../../lib/http/router";
import { registration, startHarness } from "../support/harness";

const WRONG_TOKEN = "wrong-token-9f8e7d6c5b4a";

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", () => ok()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

describe("visible failures", () => {
  it("wrong credentials: last_error on the registration, a log line, a counted fault, degraded /health; no secret anywhere", async () => {
    let now = Date.now();
    const h = await startHarness({ env: { OTC_AUTH_TOKEN: WRONG_TOKEN }, overrides: { clock: () => new Date(now) } });
    // The poller is another process than the API: its own deps, its own view of the region.
    const faults = countingFaults();
    const poller = h.twin({ faults });
    try {
      h.task("vf-auth", ["processing"]);
      const reg = await h.call("POST", "/tasks", { body: registration("vf-auth") });
      expect(reg.status).toBe(201);
      // The first query already failed: the answer says why.
      expect(reg.json).toMatchObject({ status: "registered", last_error: { code: "APIG.1002", http_status: 401 } });

      // Within two poller runs the API's /health, in "another process", names the region and the code.
      now += 5_000;
      await h.tick(poller);
      now += 5_000;
      await h.tick(poller);
      const health = await h.call("GET", "/health", { key: null });
      expect(health.status).toBe(200);
      expect(health.json).toMatchObject({
        status: "degraded",
        checks: { poller: { status: "ok" }, regions: { "eu-de": { status: "degraded", code: "APIG.1002", http_status: 401 } } },
      });

      // One line from the API's first query, one from the poller's process.
      const lines = h.logs.filter((l) => l.includes('"apig_region_failing"'));
      expect(lines).toHaveLength(2);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: "ERROR", region: "eu-de", kind: "auth", code: "APIG.1002" });
      expect(faults.counts.get("eu-de auth APIG.1002")).toBeGreaterThanOrEqual(1);

      // Twelve more minutes of faults: a line every five minutes, not one per poll.
      for (let i = 0; i < 144; i++) {
        now += 5_000;
        await h.tick(poller);
      }
      const later = h.logs.filter((l) => l.includes('"apig_region_failing"')).length;
      expect(later).toBeGreaterThanOrEqual(3);
      expect(later).toBeLessThanOrEqual(4);

      const everything = [...h.logs, health.text, reg.text, (await h.call("GET", "/tasks/vf-auth")).text].join("\n");
      expect(everything).not.toContain(WRONG_TOKEN);
    } finally {
      await h.close();
    }
  });

  it("an endpoint that refuses connections turns /health degraded with the connection error", async () => {
    const port = await closedPort();
    const h = await startHarness({ env: { APIG_ENDPOINT: `http://127.0.0.1:${port}` } });
    try {
      const reg = await h.call("POST", "/tasks", { body: registration("vf-conn") });
      expect(reg.json.last_error).toMatchObject({ code: "ECONNREFUSED", http_status: null });
      await h.tick();
      const health = await h.call("GET", "/health", { key: null });
      expect(health.json).toMatchObject({ status: "degraded", checks: { regions: { "eu-de": { status: "degraded", code: "ECONNREFUSED" } } } });
      expect(h.logs.some((l) => l.includes('"apig_region_failing"') && l.includes('"connection"'))).toBe(true);
    } finally {
      await h.close();
    }
  });

  it("a region that answers again is ok again; the health item is written at most once a minute", async () => {
    let now = Date.now();
    const h = await startHarness({ overrides: { clock: () => new Date(now) } });
    try {
      h.task("vf-flap", ["processing"]);
      const e401 = { status: 401, body: '{"error_code":"APIG.1002","error_msg":"Incorrect token"}' };
      h.sim.script("vf-flap", [e401, e401]);
      await h.call("POST", "/tasks", { body: registration("vf-flap") });
      await h.tick();
      expect((await h.call("GET", "/health", { key: null })).json.status).toBe("degraded");
      const writes = () => h.commands.HealthPutItemCommand ?? 0;
      const first = writes();
      for (let i = 0; i < 10; i++) {
        now += 5_000;
        await h.tick();
      }
      // 50 s of polls: no new health write yet.
      expect(writes()).toBe(first);
      for (let i = 0; i < 14; i++) {
        now += 5_000;
        await h.tick();
      }
      // Two minutes: at most one write a minute for the region and one for the poller's run.
      expect(writes() - first).toBeLessThanOrEqual(4);
      expect((await h.call("GET", "/tasks/vf-flap")).json.last_error).toBeNull();
      expect((await h.call("GET", "/health", { key: null })).json).toMatchObject({ status: "ok", checks: { regions: { "eu-de": { status: "ok" } } } });
    } finally {
      await h.close();
    }
  });

  it("/health reads the table at most once per cache period, and is 503 when the table does not answer", async () => {
    let now = Date.now();
    const h = await startHarness({ env: { HEALTH_CACHE_S: "12" }, overrides: { clock: () => new Date(now) } });
    try {
      await h.tick();
      const reads = () => h.commands.QueryCommand ?? 0;
      const before = reads();
      for (let i = 0; i < 5; i++) expect((await h.call("GET", "/health", { key: null })).status).toBe(200);
      expect(reads() - before).toBe(1);
      now += 13_000;
      await h.call("GET", "/health", { key: null });
      expect(reads() - before).toBe(2);

      const down = cachedHealth({ putRegion: async () => {}, putPollerRun: async () => {}, read: async () => Promise.reject(new Error("ECONNREFUSED")) }, () => new Date(), 0);
      const r = await handleHttp({ ...h.deps, healthReport: down }, { method: "GET", path: "/health", headers: {}, query: {}, body: null });
      expect(r.statusCode).toBe(503);
    } finally {
      await h.close();
    }
  });
});
