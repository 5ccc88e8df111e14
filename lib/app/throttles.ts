/**
 * The poll loop's use of the per-region APIG rate limiters (`region-throttle.ts`):
 * one per region and rate, kept across invocations of a warm container; a
 * slot is waited for only until a deadline (the invocation's hard stop); and
 * every throttling answer, any 429 (Huawei Cloud's `APIG.0308` included) or
 * 500 `APIG.9008` (OTC), slows the region down.
 */
import type { ApigObservation } from "../domain/lifecycle";
import { AimdThrottle } from "./region-throttle";

/** True for an answer that says APIG (not the task) wants fewer queries. */
export function slowsDown(o: ApigObservation): boolean {
  return !o.ok && (o.http_status === 429 || o.code === "APIG.9008");
}

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
      t = new AimdThrottle({ maxRps: this.maxRps, minRps: Math.min(1, this.maxRps) }, this.time.clock().getTime());
      this.limiters.set(key, t);
    }
    return t;
  }

  /** Per region: the last slot asked for, so slots go out in the order they were asked for. */
  private readonly tails = new Map<string, Promise<unknown>>();

  /**
   * Wait for a query slot in `region`, first come first served (the loop asks
   * in order of urgency, so the most overdue watch's poll goes out first and
   * those left waiting at the end are the least overdue); false (no slot
   * taken) when none comes before `deadline` or `signal` aborts.
   */
  acquire(region: string, deadline: number, signal?: AbortSignal): Promise<boolean> {
    const prev = this.tails.get(region) ?? Promise.resolve();
    const mine = prev.then(() => this.of(region).acquire(this.time, deadline, signal));
    this.tails.set(region, mine.catch(() => false));
    return mine;
  }

  /** What APIG answered: a throttle halves the region's rate, a good answer lets it grow back. */
  observe(region: string, o: ApigObservation): void {
    const now = this.time.clock().getTime();
    if (slowsDown(o)) this.of(region).throttled(now);
    else if (o.ok) this.of(region).succeeded(now);
  }
}
