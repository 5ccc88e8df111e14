/**
 * A per-region cap on APIG queries per second that slows down by itself:
 * a token bucket whose rate halves when APIG answers `APIG.9008` (too many
 * requests) and creeps back up while answers are good (AIMD, as TCP does).
 *
 * Polls wait for a token in one FIFO queue served by one timer: when the
 * bucket is empty, the limiter sleeps until the next token (or the earliest
 * waiter's deadline) and hands tokens out in order. So at the cap a waiting
 * poll costs nothing until its turn, instead of every waiter waking every
 * few milliseconds to try again (0.3 cores at 200 polls/s with 64 waiters).
 */

export interface ThrottleRules {
  /** The configured ceiling (`APIG_MAX_RPS`, or this invocation's share of it). */
  maxRps: number;
  /** Never slower than this, so a throttled region still makes progress. */
  minRps: number;
}

/** The limiter's clock and its one timer (the loop's deps; tests pass virtual ones). */
export interface ThrottleTimer {
  now: () => number;
  /** Resolves after `ms`. */
  sleep: (ms: number) => Promise<void>;
}

interface Waiter {
  deadline: number;
  resolve: (granted: boolean) => void;
}

export class AimdThrottle {
  private rate: number;
  private tokens: number;
  private last: number;
  private lastCut = Number.NEGATIVE_INFINITY;
  /** Waiting polls in arrival order; `head` is the first still waiting. */
  private queue: Waiter[] = [];
  private head = 0;
  /** When the one timer fires (epoch ms); null when none is set. */
  private timerAt: number | null = null;
  /** Bumped whenever the timer is replaced, so a replaced one does nothing when it fires. */
  private timerGen = 0;

  constructor(
    private readonly rules: ThrottleRules,
    now: number,
    private readonly timer?: ThrottleTimer,
  ) {
    this.rate = rules.maxRps;
    this.tokens = this.burst();
    this.last = now;
  }

  /** Current queries per second. */
  get rps(): number {
    return this.rate;
  }

  /** Polls waiting for a token. */
  get waiting(): number {
    return this.queue.length - this.head;
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
   * Take one query's token if there is one (no queue: for a caller that
   * does its own waiting).
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
   * Wait in line for a token. Resolves true when the query may go out, false
   * when no token came before `deadline` (epoch ms, a hard stop): the caller
   * must then not send it. Needs the timer given to the constructor.
   */
  acquire(deadline: number): Promise<boolean> {
    const timer = this.timer;
    if (!timer) throw new Error("AimdThrottle.acquire needs a timer");
    const now = timer.now();
    // Nobody ahead: take a token at once if there is one (the common case below the cap).
    if (this.waiting === 0 && this.take(now) === 0) return Promise.resolve(true);
    if (deadline <= now) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.queue.push({ deadline, resolve });
      this.serve();
    });
  }

  /** Hand out what tokens there are, drop waiters past their deadline, and set the one timer. */
  private serve(): void {
    const timer = this.timer!;
    const now = timer.now();
    let expired = false;
    while (this.head < this.queue.length) {
      const w = this.queue[this.head]!;
      if (w.deadline <= now) {
        this.head++;
        w.resolve(false);
        continue;
      }
      if (this.take(now) !== 0) break;
      this.head++;
      w.resolve(true);
    }
    // Waiters behind the head whose deadline passed (deadlines need not be in order).
    let earliest = Number.POSITIVE_INFINITY;
    for (let i = this.head; i < this.queue.length; i++) {
      const d = this.queue[i]!.deadline;
      if (d <= now) expired = true;
      else earliest = Math.min(earliest, d);
    }
    if (expired) {
      const keep: Waiter[] = [];
      for (let i = this.head; i < this.queue.length; i++) {
        const w = this.queue[i]!;
        if (w.deadline <= now) w.resolve(false);
        else keep.push(w);
      }
      this.queue = keep;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.waiting === 0) {
      this.queue = [];
      this.head = 0;
      return this.disarm();
    }
    const at = Math.min(now + this.msToToken(), earliest);
    // One timer: keep the one set unless this one must fire earlier.
    if (this.timerAt !== null && this.timerAt <= at) return;
    this.disarm();
    const gen = this.timerGen;
    this.timerAt = at;
    // No AbortSignal: replacing the timer is rare (a waiter with an earlier
    // deadline), and a signal per timer costs more than the stale timer.
    void timer.sleep(Math.max(0, at - now)).then(() => {
      if (this.timerGen !== gen) return;
      this.timerAt = null;
      this.serve();
    });
  }

  private msToToken(): number {
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.rate) * 1000));
  }

  private disarm(): void {
    this.timerGen++;
    this.timerAt = null;
  }

  /** APIG said `APIG.9008`: halve the rate, once per second however many answers said so. */
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
