import { describe, expect, it } from "vitest";
import { cadenceDelayMs, DEFAULT_CADENCE, nextPollAt } from "../../lib/domain/cadence";

const S = 1000;
const MIN = 60 * S;
const rules = DEFAULT_CADENCE; // 2 s .. 60 s, backoff cap 300 s

describe("cadence: delay between two polls of a healthy watch, by age", () => {
  it.each([
    [0, 2 * S],
    [30 * S, 2 * S],
    [1 * MIN, 2 * S],
    [2 * MIN, 4 * S],
    [3 * MIN, 6 * S],
    [5 * MIN, 10 * S],
    [10 * MIN, 20 * S],
    [15 * MIN - 1, 30 * S],
    [15 * MIN, 60 * S],
    [6 * 60 * MIN, 60 * S],
  ])("age %i ms -> every %i ms", (age, delay) => {
    expect(cadenceDelayMs(age, rules)).toBe(delay);
  });

  it("a young watch is polled every few seconds, an older one at least once a minute", () => {
    for (let age = 0; age < 15 * MIN; age += 7 * S) expect(cadenceDelayMs(age, rules)).toBeLessThanOrEqual(30 * S);
    for (let age = 15 * MIN; age < 48 * 60 * MIN; age += 13 * MIN) expect(cadenceDelayMs(age, rules)).toBeLessThanOrEqual(MIN);
  });
});

describe("cadence: after transient faults", () => {
  const at = (faults: number, age: number, r: number, cap = rules.backoffCapMs) =>
    nextPollAt({ createdAt: 0, lastPollAt: age, faults }, { ...rules, backoffCapMs: cap }, () => r) - age;

  it.each([
    // faults, age, random -> delay: 2^faults times the cadence, jittered over the upper half, capped
    [0, 0, 0.5, 2 * S],
    [1, 0, 0, 2 * S],
    [1, 0, 0.5, 3 * S],
    [3, 0, 0, 8 * S],
    [3, 0, 0.5, 12 * S],
    [1, 20 * MIN, 0.5, 90 * S],
    [2, 20 * MIN, 0.5, 180 * S],
    [3, 20 * MIN, 0.5, 225 * S],
    [30, 20 * MIN, 0.5, 225 * S],
    [30, 20 * MIN, 0, 150 * S],
  ])("%i faults at age %i, random %f -> %i ms", (faults, age, r, delay) => {
    expect(at(faults, age, r)).toBe(delay);
  });

  it("never waits longer than the cap, whatever the cap, age, fault count or jitter", () => {
    for (const cap of [5 * S, 20 * S, 300 * S])
      for (const age of [0, 3 * MIN, 20 * MIN, 24 * 60 * MIN])
        for (const faults of [0, 1, 2, 5, 50])
          for (const r of [0, 0.3, 0.999]) {
            const d = at(faults, age, r, cap);
            expect(d).toBeGreaterThan(0);
            if (faults > 0) expect(d).toBeLessThanOrEqual(cap);
          }
  });

  it("jitters: watches failing together do not retry in lockstep", () => {
    const delays = new Set([0.1, 0.4, 0.7, 0.95].map((r) => at(4, 0, r)));
    expect(delays.size).toBe(4);
  });
});
