/**
 * The poll loop's use of the per-region APIG rate limiters (`region-throttle.ts`):
 * one per region and rate, kept across invocations of a warm container; a
 * slot is waited for only until a deadline (the invocation's hard stop); and
 * every throttling answer (`domain/apig-fault.ts`: any 429, Huawei Cloud's
 * `APIG.0308` included, or OTC's 500 `APIG.9008`) slows the region down.
 */
import { faultOf } from "../domain/apig-fault";
import type { ApigObservation } from "../domain/lifecycle";
import { AimdThrottle } from "./region-throttle";

export interface ThrottleTime {
  clock: () => Date;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class RegionThrottles {
  /**
   * @param limiters kept by the caller across invocations, keyed `region|maxRps`, so a warm
   *   container whose share of the rate changed (fan-out) starts afresh
   */
  constructor(
    private readonly limiters: Map<string, AimdThrottle>,
    private readonly maxRps: number,
    private readonly time: ThrottleTime,
  ) {}

  /** The limiter of a region at this invocation's rate. */
  of(region: string): AimdThrottle {
    const key = `${region}|${this.maxRps}`;
    let t = this.limiters.get(key);
    if (!t) {
      const timer = { now: () => this.time.clock().getTime(), sleep: this.time.sleep };
      t = new AimdThrottle({ maxRps: this.maxRps, minRps: Math.min(1, this.maxRps) }, this.time.clock().getTime(), timer);
      this.limiters.set(key, t);
    }
    return t;
  }

  /**
   * Wait for a query slot in `region`. The limiter serves its waiters first
   * come, first served (the loop asks in order of urgency, so the most overdue
   * watch's poll goes out first); false (no slot taken) when none comes
   * before `deadline` or `signal` aborts.
   */
  acquire(region: string, deadline: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    const slot = this.of(region).acquire(deadline);
    if (!signal) return slot;
    // Stopped while waiting: give up now (a slot granted later only goes unused).
    // One listener per signal for every waiter, not one added and removed per poll.
    let waiters = this.onAbort.get(signal);
    if (!waiters) {
      const set = (waiters = new Set());
      this.onAbort.set(signal, set);
      signal.addEventListener("abort", () => {
        for (const give of set) give(false);
        set.clear();
      }, { once: true });
    }
    const ws = waiters;
    return new Promise<boolean>((resolve) => {
      ws.add(resolve);
      void slot.then((granted) => {
        ws.delete(resolve);
        resolve(granted);
      });
    });
  }

  /** Per abort signal: the waiters that give up when it aborts. */
  private readonly onAbort = new WeakMap<AbortSignal, Set<(granted: boolean) => void>>();

  /** What APIG answered: a throttle halves the region's rate, a good answer lets it grow back. */
  observe(region: string, o: ApigObservation): void {
    const now = this.time.clock().getTime();
    if (faultOf(o) === "throttled") this.of(region).throttled(now);
    else if (o.ok) this.of(region).succeeded(now);
  }
}
