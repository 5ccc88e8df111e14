/**
 * The handover between scheduled invocations (`lib/app/handover.ts`) on
 * virtual time, through the real invocation code, with Lambda's rule that a
 * container runs one invocation at a time (`infra/dev/sim/schedule-sim.ts`):
 * no stretch without polls at a boundary, even with a late successor, no
 * watch polled twice within its cadence because of it, and a missing
 * successor does not keep an invocation past its timeout.
 */
import { describe, expect, it } from "vitest";
import type { InvocationSettings } from "../../lib/app/poller-invocation";
import { HANDOVER_WAIT_MS, pollerTiming } from "../../lib/app/timing";
import { cadenceDelayMs, DEFAULT_CADENCE } from "../../lib/domain/cadence";
import { type Sim, startSim } from "../../infra/dev/sim/loop-sim";
import { longestPollFreeMs, runSchedule, type ScheduleOptions } from "../../infra/dev/sim/schedule-sim";

const S = 1000;
const LATENCY = 200;
const timing = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });
/** As the deployed handler runs it. */
const shipped: InvocationSettings = { concurrency: 64, apigMaxRps: 200, loopMs: timing.loopMs, reserveMs: timing.reserveMs, coverMs: timing.coverMs };

/** Old watches, and a young one registered every 7 s from now on, each running `lifeMs`. */
function workload(sim: Sim, o: { old: number; minutes: number; lifeMs: number }) {
  const created = new Map<string, number>();
  for (let i = 0; i < o.old; i++) sim.watch(`old-${i}`, 24 * 3600 * S);
  const t0 = sim.vt.now;
  // Old: registered 30 minutes before the run.
  for (let i = 0; i < o.old; i++) {
    const w = sim.store.peek("acme", `old-${i}`)!;
    const at = new Date(t0 - 30 * 60 * S + i * 100).toISOString();
    sim.store.seed({ ...w, created_at: at, history: w.history.map((h) => ({ ...h, at })) });
    created.set(`old-${i}`, Date.parse(at));
  }
  for (let k = 0; k * 7 * S < o.minutes * 60 * S; k++) {
    void sim.vt.sleep(k * 7 * S).then(() => {
      sim.watch(`young-${k}`, o.lifeMs);
      created.set(`young-${k}`, sim.vt.now);
    });
  }
  return created;
}

/** Per watch, polls closer together than its cadence at the earlier one allows (the answer times, less the latency, are the send times). */
function tooSoon(sim: Sim, created: Map<string, number>) {
  const out: string[] = [];
  for (const [id, times] of sim.apig.asked) {
    for (let i = 1; i < times.length; i++) {
      const sentBefore = times[i - 1]! - LATENCY;
      const want = cadenceDelayMs(sentBefore - created.get(id)!, DEFAULT_CADENCE);
      if (times[i]! - times[i - 1]! < want - 1) out.push(`${id}: ${times[i]! - times[i - 1]!} ms after the last poll, cadence ${want} ms`);
    }
  }
  return out;
}

const allPolls = (sim: Sim) => [...sim.apig.asked.values()].flat();

async function run(o: Partial<ScheduleOptions> & { old?: number } = {}) {
  const sim = startSim({ shards: 4, latencyMs: LATENCY });
  const minutes = o.invocations ?? 6;
  const created = workload(sim, { old: o.old ?? 200, minutes, lifeMs: 10 * 60 * S });
  const inv = await runSchedule(sim.vt, sim.deps, { invocations: minutes, periodMs: 60 * S, settings: shipped, lambdaTimeoutS: timing.lambdaTimeoutS, ...o });
  return { sim, created, inv };
}

describe("handover: no stretch without polls between invocations", () => {
  it("across boundaries with a successor on time, 5 s late and 9 s late, the longest poll-free stretch is within the young cadence, and no watch is polled twice within its cadence", async () => {
    // Late ones followed by on-time ones: short minutes, then a container whose memory is a minute and a half old.
    const late = [0, 5 * S, 0, 5 * S, 0, 5 * S, 0, 5 * S, 9 * S, 0];
    const { sim, created, inv } = await run({ invocations: 10, lateMs: (i) => late[i] ?? 0 });
    expect(inv).toHaveLength(10);
    const polls = allPolls(sim);
    for (const s of inv.slice(1)) {
      // From before the scheduled start to well after the successor's: where the gap used to be.
      const stretch = longestPollFreeMs(polls, s.scheduledAt - 5 * S, s.startedAt + 10 * S);
      expect(stretch, `boundary before invocation ${s.index} (${s.startedAt - s.scheduledAt} ms late)`).toBeLessThanOrEqual(DEFAULT_CADENCE.minMs);
    }
    expect(tooSoon(sim, created)).toEqual([]);
    // Old watches: once a minute, neither twice nor skipped at a boundary.
    for (let i = 0; i < 200; i++) {
      const t = sim.apig.asked.get(`old-${i}`)!;
      const gaps = t.slice(1).map((x, j) => x - t[j]!);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(62 * S);
    }
    // The predecessor polled until its successor was there, and ended soon after: the late one's included.
    for (let i = 1; i < inv.length; i++) {
      expect(inv[i - 1]!.summary.handedOver).toBe(true);
      expect(inv[i - 1]!.endedAt).toBeGreaterThanOrEqual(inv[i]!.startedAt);
      expect(inv[i - 1]!.endedAt - inv[i]!.startedAt).toBeLessThanOrEqual(2 * S);
      // The successor waited for it, briefly.
      expect(inv[i]!.summary.handoverWaitMs).toBeLessThanOrEqual(2 * S);
    }
    // Each invocation's overlap lands on the other container: two, in turn.
    expect(new Set(inv.map((x) => x.container)).size).toBe(2);
  });

  it("costs a small handover record a minute: one round write per invocation and the sweep records it wrote anyway", async () => {
    const { sim, inv } = await run({});
    // One round per scheduled invocation; each lets its 4 shards go once.
    expect(sim.store.counts.roundWrites).toBe(inv.length);
    expect(sim.store.counts.sweepWrites).toBe(inv.length * 4);
    // Invocations are longer only by the overlap: about a minute each.
    const busy = inv.slice(0, -1).map((x) => x.endedAt - x.startedAt);
    expect(Math.max(...busy)).toBeLessThanOrEqual(60 * S + 9 * S + 2 * S);
  });

  it("a missing successor (dropped): the predecessor covers LATE_SUCCESSOR_MS past the schedule, ends within its timeout, and the next one goes on where it stopped", async () => {
    const { sim, created, inv } = await run({ invocations: 5, dropped: (i) => i === 2 });
    const before = inv.find((x) => x.index === 1)!;
    expect(before.summary.handedOver).toBe(false);
    // It kept polling for a late successor until its cover ended (less the idle second before it), then stopped (the simulator fails one past its Lambda timeout).
    expect(before.endedAt - before.startedAt).toBeGreaterThanOrEqual(timing.coverMs - 1 * S);
    expect(before.endedAt - before.startedAt).toBeLessThanOrEqual(timing.coverMs + 2 * S);
    // The one after did not wait for it, and followed the schedule it left.
    expect(inv.find((x) => x.index === 3)!.summary.handoverWaitMs).toBe(0);
    expect(tooSoon(sim, created)).toEqual([]);
  });

  it("an idle deployment: each invocation ends at once and marks its round ended, so the next one does not wait", async () => {
    const sim = startSim({ shards: 4 });
    const inv = await runSchedule(sim.vt, sim.deps, { invocations: 3, periodMs: 60 * S, settings: shipped, lambdaTimeoutS: timing.lambdaTimeoutS });
    for (const x of inv) {
      expect(x.endedAt - x.startedAt).toBeLessThan(1 * S);
      expect(x.summary.handoverWaitMs).toBe(0);
    }
    expect(sim.store.round).toMatchObject({ ended: true });
    // A write to start each round and one to end it.
    expect(sim.store.counts.roundWrites).toBe(6);
  });

  it("a predecessor that is gone (crashed, killed: it never lets go) holds its successor up at most HANDOVER_WAIT_MS, and one that is not looking yet not at all", async () => {
    for (const [ago, wait] of [
      [55 * S, HANDOVER_WAIT_MS],
      [20 * S, 0],
    ] as const) {
      const sim = startSim({ shards: 4 });
      sim.watch("young", 10 * 60 * S);
      // Its round, still within its cover, and it wrote nothing since.
      sim.store.round = { round: sim.vt.now - ago, coverUntil: sim.vt.now - ago + timing.coverMs };
      const [first] = await runSchedule(sim.vt, sim.deps, { invocations: 1, periodMs: 60 * S, settings: shipped, lambdaTimeoutS: timing.lambdaTimeoutS });
      expect(first!.summary.handoverWaitMs).toBe(wait);
      expect(sim.apig.asked.get("young")![0]! - first!.startedAt).toBeLessThanOrEqual(wait + 1 * S);
    }
  });
});
