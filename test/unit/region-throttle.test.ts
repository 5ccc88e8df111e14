/**
 * The rate limiter on virtual time: one queue, one timer. Waiters get tokens
 * in arrival order at the configured rate, give up at their deadline (never
 * later), and the limiter sets about one timer per token handed out, not
 * one per waiter per token.
 */
import { describe, expect, it } from "vitest";
import { AimdThrottle } from "../../lib/app/region-throttle";
import { VirtualTime } from "../../infra/dev/sim/virtual-time";

function limiter(maxRps: number) {
  const vt = new VirtualTime();
  let sleeps = 0;
  const timer = {
    now: () => vt.now,
    sleep: (ms: number) => {
      sleeps++;
      return vt.sleep(ms);
    },
  };
  const t = new AimdThrottle({ maxRps, minRps: 1 }, vt.now, timer);
  return { vt, t, sleeps: () => sleeps };
}

/** `n` waiters queued at once; each records when (virtual ms from the start) it was answered and with what. */
async function queueUp(l: ReturnType<typeof limiter>, n: number, deadline: number) {
  const start = l.vt.now;
  const answers: { i: number; at: number; granted: boolean }[] = [];
  const all = Array.from({ length: n }, (_, i) => l.t.acquire(deadline).then((granted) => answers.push({ i, at: l.vt.now - start, granted })));
  await l.vt.drive(Promise.all(all));
  return answers;
}

describe("region rate limiter", () => {
  it("hands tokens out in arrival order at the rate, with one timer for the whole queue", async () => {
    const l = limiter(10);
    const answers = await queueUp(l, 32, l.vt.now + 60_000);
    expect(answers.every((a) => a.granted)).toBe(true);
    expect(answers.map((a) => a.i)).toEqual([...Array(32).keys()]);
    // Burst of 2 (a fifth of a second), then one every 100 ms.
    expect(answers.filter((a) => a.at === 0)).toHaveLength(2);
    const gaps = answers.slice(2).map((a, k) => a.at - (k === 0 ? 0 : answers[k + 1]!.at));
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(99), expect(g).toBeLessThanOrEqual(101);
    expect(answers.at(-1)!.at).toBeGreaterThanOrEqual(2_990);
    expect(answers.at(-1)!.at).toBeLessThanOrEqual(3_010);
    // 30 waits: about one timer each. The old limiter's waiters each retried
    // on their own timer: 30 + 29 + ... + 1 = 465 sleeps for the same queue.
    expect(l.sleeps()).toBeLessThanOrEqual(31);
  });

  it("at 200/s with 64 polls waiting, sets about one timer per query (not 64)", async () => {
    const l = limiter(200);
    // Drain the burst, then keep 64 waiting for 2 s of queries.
    const answers = await queueUp(l, 40 + 400, l.vt.now + 60_000);
    expect(answers.every((a) => a.granted)).toBe(true);
    expect(answers.at(-1)!.at).toBeGreaterThanOrEqual(1_990);
    expect(answers.at(-1)!.at).toBeLessThanOrEqual(2_010);
    expect(l.sleeps()).toBeLessThanOrEqual(401);
  });

  it("gives up at the deadline, never later, and grants nothing after it", async () => {
    const l = limiter(10);
    const start = l.vt.now;
    const answers = await queueUp(l, 20, start + 1_050);
    const granted = answers.filter((a) => a.granted);
    const refused = answers.filter((a) => !a.granted);
    // 2 at once, then one at 100, 200, ... 1000 ms: 12 before the deadline.
    expect(granted).toHaveLength(12);
    expect(granted.every((a) => a.at <= 1_050)).toBe(true);
    expect(refused).toHaveLength(8);
    expect(refused.every((a) => a.at === 1_050)).toBe(true);
    // A waiter asking at or after its deadline with no token left is refused at once.
    expect(await l.t.acquire(l.vt.now)).toBe(false);
  });

  it("a waiter with an earlier deadline behind others is refused at its own deadline", async () => {
    const l = limiter(1);
    const start = l.vt.now;
    const far = l.t.acquire(start + 10_000);
    const farther = l.t.acquire(start + 10_000);
    const near = l.t.acquire(start + 300);
    const at: Record<string, number> = {};
    const results = await l.vt.drive(
      Promise.all([far, farther.then((g) => ((at.farther = l.vt.now - start), g)), near.then((g) => ((at.near = l.vt.now - start), g))]),
    );
    expect(results).toEqual([true, true, false]);
    expect(at.near).toBe(300);
    expect(at.farther).toBeGreaterThanOrEqual(990);
  });

  it("after APIG.9008 the queue drains at half the rate", async () => {
    const l = limiter(10);
    l.t.throttled(l.vt.now);
    expect(l.t.rps).toBe(5);
    const answers = await queueUp(l, 12, l.vt.now + 60_000);
    // The burst left (2 tokens, capped to the new burst of 1), then one every 200 ms.
    const last = answers.at(-1)!.at;
    expect(last).toBeGreaterThanOrEqual(1_990);
    expect(last).toBeLessThanOrEqual(2_210);
  });
});
