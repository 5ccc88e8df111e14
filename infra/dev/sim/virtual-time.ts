/**
 * Virtual time for the poll loop's simulations and tests: `clock` and `sleep`
 * for the loop's deps, and a driver that runs a promise to its end, jumping
 * the clock to the next timer whenever every actor is waiting on one. With
 * in-memory ports (no real I/O) a simulated hour takes seconds, and every
 * run is deterministic.
 */
import { MinHeap } from "../../../lib/app/min-heap";

export class VirtualTime {
  private current: number;
  private readonly timers = new MinHeap<() => void>();
  private seq = 0;

  constructor(start = Date.parse("2026-11-28T10:00:00.000Z")) {
    this.current = start;
  }

  get now(): number {
    return this.current;
  }

  readonly clock = (): Date => new Date(this.current);

  /** Resolves when the virtual clock reaches now + ms. */
  readonly sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      // The fraction keeps timers of one instant in the order they were set.
      this.timers.push(this.current + Math.max(0, ms) + (this.seq++ % 1e6) * 1e-9, resolve);
    });

  /**
   * Run until `p` settles: let every ready callback run, then move the clock
   * to the earliest timer and fire it, and so on.
   */
  async drive<T>(p: Promise<T>): Promise<T> {
    let done = false;
    const settled = p.then(
      (v) => ((done = true), v),
      (e: unknown) => {
        done = true;
        throw e;
      },
    );
    while (!done) {
      await new Promise<void>((r) => setImmediate(r));
      if (done) break;
      const next = this.timers.pop();
      if (!next) throw new Error("virtual time: nothing to wait for, but the run has not finished");
      this.current = Math.max(this.current, Math.floor(next.key));
      next.item();
    }
    return settled;
  }
}
