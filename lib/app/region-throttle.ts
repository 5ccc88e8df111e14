/**
 * A per-region cap on APIG queries per second that slows down by itself:
 * a token bucket whose rate halves when APIG throttles (500 `APIG.9008`, any
 * 429: see `throttles.ts`) and creeps back up while answers are good (AIMD,
 * as TCP does). Pure apart from the clock and sleep passed in.
 */

export interface ThrottleRules {
  /** The configured ceiling (`APIG_MAX_RPS`, or this invocation's share of it). */
  maxRps: number;
  /** Never slower than this, so a throttled region still makes progress. */
  minRps: number;
}

export class AimdThrottle {
  private rate: number;
  private tokens: number;
  private last: number;
  private lastCut = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly rules: ThrottleRules,
    now: number,
  ) {
    this.rate = rules.maxRps;
    this.tokens = this.burst();
    this.last = now;
  }

  /** Current queries per second. */
  get rps(): number {
    return this.rate;
  }

  /** A fifth of a second of queries may go out at once. */
  private burst(): number {
    return Math.max(1, this.rate / 5);
  }

  private refill(now: number): void {
    const dt = Math.max(0, now - this.last) / 1000;
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst(), this.tokens + dt * this.rate);
  }

  /**
   * Take one query's token if there is one.
   * @returns 0 when taken, else the milliseconds until one will be there
   */
  take(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  /**
   * Wait for one query's slot, but never past `deadline` (epoch ms): the
   * caller's hard stop bounds every wait, whatever APIG does.
   * @returns true with the slot taken; false, with nothing taken, when no slot comes before `deadline` or `signal` aborts
   */
  async acquire(
    time: { clock: () => Date; sleep: (ms: number, signal?: AbortSignal) => Promise<void> },
    deadline: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const now = time.clock().getTime();
      const wait = this.take(now);
      if (wait === 0) return true;
      if (now + wait > deadline) return false;
      await time.sleep(wait, signal);
    }
  }

  /** APIG throttled us: halve the rate, once per second however many answers said so. */
  throttled(now: number): void {
    if (now - this.lastCut < 1000) return;
    this.lastCut = now;
    this.rate = Math.max(this.rules.minRps, this.rate / 2);
    this.tokens = Math.min(this.tokens, this.burst());
  }

  /** A good answer: grow back by a twentieth of the ceiling per second of good answers. */
  succeeded(now: number): void {
    this.refill(now);
    if (this.rate >= this.rules.maxRps) return;
    this.rate = Math.min(this.rules.maxRps, this.rate + this.rules.maxRps / 20 / Math.max(1, this.rate));
  }
}
