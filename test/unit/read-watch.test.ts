/**
 * Reading a watch for a client (lib/app/read-watch.ts) on virtual time and
 * the in-memory repository: the `Retry-After` rhythm by age and by waiting,
 * the waited mark (written at most every four minutes, and moving the watch's
 * due-index entry so the running poller sees it), and `?wait=` reading once
 * per expected poll.
 */
import { describe, expect, it } from "vitest";
import { readWatch } from "../../lib/app/read-watch";
import { newWatch } from "../../lib/app/register";
import { MemoryRepository } from "../../infra/dev/sim/memory-repository";
import { VirtualTime } from "../../infra/dev/sim/virtual-time";

const MIN = 60_000;

function setup(ageMs: number) {
  const vt = new VirtualTime();
  const store = new MemoryRepository(1);
  const w = newWatch("acme", { project_id: "p", instance_id: "i", task_id: "t1", region: "eu-de", targets: [], labels: {}, timeout_s: 86_400 }, new Date(vt.now - ageMs));
  store.seed({ ...w, status: "processing", task_type: "import_api" });
  const silent = () => {};
  const deps = { store, clock: vt.clock, sleep: vt.sleep, log: { info: silent, warn: silent, error: silent } };
  const read = async (waitS?: number) => {
    const r = await vt.drive(readWatch(deps, "acme", "t1", waitS === undefined ? {} : { waitS }));
    if (!r.ok) throw new Error(`read failed: ${r.reason}`);
    return r;
  };
  const missing = () => vt.drive(readWatch(deps, "acme", "nope", { waitS: 25 }));
  const advance = (ms: number) => vt.drive(vt.sleep(ms));
  return { vt, store, read, missing, advance };
}

describe("Retry-After: seconds until the next poll has landed", () => {
  it("follows the cadence by age for a look: 3 s while young, 60 s when old; nothing written", async () => {
    const young = setup(10_000);
    expect((await young.read())!.retryAfterS).toBe(3);
    const mid = setup(5 * MIN);
    // 5 minutes old: polled every 10 s.
    expect((await mid.read())!.retryAfterS).toBe(11);
    const old = setup(30 * MIN);
    expect((await old.read())!.retryAfterS).toBe(60);
    expect(old.store.counts.saves).toBe(0);
  });

  it("a waiting client (wait=0) makes an old watch answer at the young rhythm, with one write every four minutes", async () => {
    const s = setup(30 * MIN);
    const first = await s.read(0);
    expect(first!.retryAfterS).toBe(3);
    expect(first!.watch.waited_until).toBe(s.vt.now + 5 * MIN);
    expect(s.store.counts.saves).toBe(1);
    // The due-index entry moved to the read's time: a poller's next pickup sees it.
    const [entry] = await s.store.dueKeys("S#0", { upTo: s.vt.now });
    expect(entry!.dueAt).toBe(s.vt.now);
    // A client reading every 3 s for 3 minutes: 61 reads, 1 write (at 0);
    // for 10 minutes: 201 reads, 3 writes (at 0, 243 and 486 s).
    for (let i = 0; i < 60; i++) {
      await s.advance(3_000);
      expect((await s.read(0))!.retryAfterS).toBe(3);
    }
    expect(s.store.counts.saves).toBe(1);
    for (let i = 60; i < 200; i++) {
      await s.advance(3_000);
      expect((await s.read(0))!.retryAfterS).toBe(3);
    }
    expect(s.store.counts.saves).toBe(3);
    // The client gone: five minutes later the watch is back at its own rhythm.
    await s.advance(5 * MIN + 1);
    expect((await s.read())!.retryAfterS).toBe(60);
  });

  it("a terminal watch has no Retry-After", async () => {
    const s = setup(MIN);
    const w = (await s.read())!.watch;
    await s.store.save({ ...w, status: "succeed", finished_at: s.vt.clock().toISOString() });
    expect((await s.read(0))!.retryAfterS).toBeNull();
  });

  it("wait=S reads the table once per expected poll, not every few hundred ms", async () => {
    const s = setup(30 * MIN);
    const gets = s.store.counts.gets;
    const start = s.vt.now;
    const r = await s.read(25);
    expect(s.vt.now - start).toBe(25_000);
    expect(r!.watch.status).toBe("processing");
    // One read, then one every 3 s (the waited rhythm): 10, where the old loop made 21.
    expect(s.store.counts.gets - gets).toBe(10);
  });

  it("a waiting client reads eventually consistent (half the units); a miss asks again strongly, so a new watch is never 404; a look reads strongly", async () => {
    const s = setup(30 * MIN);
    await s.read();
    expect(s.store.counts).toMatchObject({ gets: 1, eventualGets: 0 });
    await s.read(0);
    expect(s.store.counts).toMatchObject({ gets: 2, eventualGets: 1 });
    // Registered a moment ago: not yet in what an eventually consistent read sees.
    const store = s.store;
    const lagging = Object.assign(Object.create(store) as MemoryRepository, {
      get: (tenant: string, taskId: string, o?: { consistent?: boolean }) => (o?.consistent === false ? Promise.resolve(null) : store.get(tenant, taskId, o)),
    });
    const silent = () => {};
    const r = await s.vt.drive(readWatch({ store: lagging, clock: s.vt.clock, sleep: s.vt.sleep, log: { info: silent, warn: silent, error: silent } }, "acme", "t1", { waitS: 0 }));
    expect(r.ok).toBe(true);
  });

  it("a watch the tenant does not have is not_found at once, whatever the wait", async () => {
    const s = setup(MIN);
    const start = s.vt.now;
    expect(await s.missing()).toEqual({ ok: false, reason: "not_found" });
    expect(s.vt.now).toBe(start);
  });
});
