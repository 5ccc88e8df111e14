/**
 * A redelivery saved while a delivery is in flight: the delivery's tries are
 * laid onto the fresh copy (no try lost from the attempts log, none made
 * twice), and the redelivered target is sent once, after the lease ends.
 */
import { describe, expect, it } from "vitest";
import { deliverOwed } from "../../lib/app/observe-and-deliver";
import { redeliverWatch } from "../../lib/app/redeliver";
import { newWatch } from "../../lib/app/register";
import type { Watch } from "../../lib/domain/watch";
import { startSim } from "../../infra/dev/sim/loop-sim";

describe("redelivery during a delivery", () => {
  it("keeps the in-flight try, sends nothing twice, and sends the redelivered target once", async () => {
    const sim = startSim();
    const now = sim.vt.clock();
    const base = newWatch(
      "acme",
      {
        project_id: "p",
        instance_id: "i",
        task_id: "t1",
        region: "eu-de",
        targets: [
          { type: "webhook", url: "https://a.example.com/h", secret: "whsec_x" },
          { type: "webhook", url: "https://b.example.com/h", secret: "whsec_x" },
        ],
        labels: {},
        timeout_s: 86_400,
      },
      now,
    );
    const at = now.toISOString();
    const watch: Watch = {
      ...base,
      status: "succeed",
      finished_at: at,
      event_id: "msg_t1",
      targets: [
        { ...base.targets[0]!, state: "delivered", attempts: 1, delivered_at: at, attempts_log: [{ at, ok: true, status: 200, duration_ms: 5 }] },
        { ...base.targets[1]!, next_attempt_at: now.getTime() },
      ],
    } as Watch;
    sim.store.seed(watch);

    // The receiver of t1 holds its answer until released; every POST is counted by target.
    const posts: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((ok) => (release = ok));
    sim.deps.sender = {
      async send(target) {
        posts.push(target.id);
        if (target.id === "t1" && posts.filter((p) => p === "t1").length === 1) await held;
        return { ok: true, status: 200 };
      },
    };

    const inFlight = deliverOwed(sim.deps, sim.store.peek("acme", "t1")!, sim.vt.clock());
    await sim.vt.drive(Promise.resolve());
    expect(posts).toEqual(["t1"]);

    const r = await redeliverWatch(sim.deps, "acme", "t1", ["t0"]);
    expect(r.ok).toBe(true);
    // While the first delivery holds the lease, another writer sends nothing.
    const meanwhile = await deliverOwed(sim.deps, sim.store.peek("acme", "t1")!, sim.vt.clock());
    expect(meanwhile.outcome).toBe("leased");

    release();
    await inFlight;
    const stored = sim.store.peek("acme", "t1")!;
    expect(stored.targets[1]).toMatchObject({ state: "delivered", attempts: 1 });
    expect(stored.targets[1]!.attempts_log).toHaveLength(1);
    expect(stored.targets[0]).toMatchObject({ state: "pending", attempts: 0 });
    expect(stored.lease_until).toBeUndefined();

    // The next round sends the redelivered target, and only it.
    await deliverOwed(sim.deps, stored, sim.vt.clock());
    expect(posts).toEqual(["t1", "t0"]);
    const after = sim.store.peek("acme", "t1")!;
    expect(after.targets.map((t) => t.state)).toEqual(["delivered", "delivered"]);
    expect(after.targets[0]!.attempts_log).toHaveLength(2);
    expect(after.targets[1]!.attempts_log).toHaveLength(1);
  });
});
