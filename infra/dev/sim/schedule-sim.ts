/**
 * Scheduled poller invocations as Lambda runs them, on virtual time, through
 * the real invocation code (`runPollerInvocation`): one a period, each
 * possibly late or dropped; one invocation per container at a time, so an
 * invocation that starts while another still runs lands on another
 * container (an idle warm one, else a new one), with that container's own
 * memory. For the handover's tests and benchmark: where the polls fall
 * across invocation boundaries.
 */
import type { LoopDeps } from "../../../lib/app/poll-loop";
import { createCoordinatorMemory, type CoordinatorMemory, type InvocationSettings, type InvocationSummary, runPollerInvocation } from "../../../lib/app/poller-invocation";
import { createPollerState, type PollerState } from "../../../lib/app/poll-schedule";
import type { VirtualTime } from "./virtual-time";

export interface ScheduledInvocation {
  index: number;
  /** When the schedule meant it to start, and when it did. */
  scheduledAt: number;
  startedAt: number;
  endedAt: number;
  /** Which container it ran on (0, 1, ... in order of creation). */
  container: number;
  summary: InvocationSummary;
}

export interface ScheduleOptions {
  invocations: number;
  periodMs: number;
  settings: InvocationSettings;
  /** The Lambda timeout, seconds. */
  lambdaTimeoutS: number;
  /** How late invocation i starts after its scheduled time (default 0). */
  lateMs?: (i: number) => number;
  /** Whether invocation i never runs (dropped, throttled). */
  dropped?: (i: number) => boolean;
}

interface Container {
  id: number;
  busy: boolean;
  state: PollerState;
  memory: CoordinatorMemory;
}

/** Run the schedule from now; resolves when every invocation has ended. */
export async function runSchedule(vt: VirtualTime, deps: LoopDeps, o: ScheduleOptions): Promise<ScheduledInvocation[]> {
  const t0 = vt.now;
  const containers: Container[] = [];
  const out: ScheduledInvocation[] = [];
  const actors: Array<Promise<void>> = [];
  for (let i = 0; i < o.invocations; i++) {
    if (o.dropped?.(i)) continue;
    const scheduledAt = t0 + i * o.periodMs;
    actors.push(
      vt.sleep(scheduledAt + (o.lateMs?.(i) ?? 0) - t0).then(async () => {
        let c = containers.find((x) => !x.busy);
        if (!c) containers.push((c = { id: containers.length, busy: false, state: createPollerState(), memory: createCoordinatorMemory() }));
        c.busy = true;
        const startedAt = vt.now;
        const summary = await runPollerInvocation(deps, c.state, {
          event: {},
          remainingMs: o.lambdaTimeoutS * 1000,
          settings: o.settings,
          memory: c.memory,
        });
        if (vt.now > startedAt + o.lambdaTimeoutS * 1000) throw new Error(`invocation ${i} ran past its Lambda timeout`);
        c.busy = false;
        out.push({ index: i, scheduledAt, startedAt, endedAt: vt.now, container: c.id, summary });
      }),
    );
  }
  await vt.drive(Promise.all(actors));
  return out.sort((a, b) => a.index - b.index);
}

/**
 * The longest stretch with no APIG query between `from` and `to`, from the
 * query times given (all tasks together): what a watch whose end falls in it
 * waits at worst, whatever its cadence.
 */
export function longestPollFreeMs(times: readonly number[], from: number, to: number): number {
  const inside = times.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  const edges = [from, ...inside, to];
  let worst = 0;
  for (let i = 1; i < edges.length; i++) worst = Math.max(worst, edges[i]! - edges[i - 1]!);
  return worst;
}
