/**
 * Detection by task age, waited and not, on virtual time: the real poll loop
 * and read use case over in-memory ports (`infra/dev/sim`), invoked once a
 * minute as deployed (`runSchedule`: the shipped timing, each invocation
 * polling until its successor has taken over, on another container while the
 * last still runs, as Lambda does), APIG answering in `latencyMs`, `APIG_MAX_RPS` `maxRps`,
 * `background` open watches of ages spread over the last hour. For each age
 * A (1, 3, 10, 30 minutes) `perAge` tasks are registered at random moments
 * of the first minute and end A minutes (plus up to a minute, at random)
 * later. Half have a client waiting from registration (the CLI: reads with
 * `wait=0` at the `Retry-After` rhythm). Detection: task end at APIG -> the
 * notification leaves; for waited tasks also -> the client's read that sees
 * the end. Also counts what a waited life costs: reads, waited-mark writes,
 * and the log bytes the poller writes per life.
 */
import { seeded, simLoopDeps } from "../../infra/dev/sim/loop-sim";
import { runSchedule } from "../../infra/dev/sim/schedule-sim";
import { pollerTiming } from "../../lib/app/timing";
import type { Sender } from "../../lib/app/ports";
import { readWatch } from "../../lib/app/read-watch";
import { newWatch } from "../../lib/app/register";
import { createLogger } from "../../lib/aws/log";
import { FakeApig } from "../../infra/dev/sim/fake-apig";
import { MemoryRepository } from "../../infra/dev/sim/memory-repository";
import { VirtualTime } from "../../infra/dev/sim/virtual-time";
import { percentile } from "./stack";

export const AGES_MIN = [1, 3, 10, 30] as const;

export interface AgeRow {
  ageMin: number;
  waited: boolean;
  tasks: number;
  /** Task end -> notification sent, seconds. */
  p50S: number;
  p99S: number;
  /** Task end -> the waiting client's read that shows it (waited only). */
  clientP50S: number | null;
  clientP99S: number | null;
  /** Per waited life: client reads (GETs) and waited-mark writes. */
  readsPerLife: number | null;
  marksPerLife: number | null;
  /** Mean registration -> end, seconds. */
  meanLifeS: number;
}

export interface AgesResult {
  rows: AgeRow[];
  settings: string;
  /** Poller log bytes per watch life (the whole run's lines over the measured lives). */
  logBytesPerLife: number;
  polls: number;
  wallS: number;
}

export async function runAges(o: { background: number; perAge: number; latencyMs: number; maxRps: number; concurrency: number }): Promise<AgesResult> {
  const wall = Date.now();
  const vt = new VirtualTime();
  const store = new MemoryRepository(16);
  const apig = new FakeApig(vt, o.latencyMs);
  const rand = seeded(11);
  const sent = new Map<string, number>();
  const sender: Sender = {
    async send(_t, view) {
      await vt.sleep(50);
      sent.set(view.task_id, vt.now);
      return { ok: true, status: 200 };
    },
  };
  let logBytes = 0;
  const log = createLogger({ serviceName: "bench", logLevel: "INFO", sink: (l) => void (logBytes += Buffer.byteLength(l) + 1) });
  const deps = simLoopDeps({ store, apig, sender, clock: vt.clock, sleep: vt.sleep, log });
  const seed = (taskId: string, at: number, endsAt: number, webhook: boolean) => {
    apig.tasks.set(taskId, { endsAt });
    const w = newWatch(
      "acme",
      {
        project_id: "p",
        instance_id: "i",
        task_id: taskId,
        region: "eu-de",
        targets: webhook ? [{ type: "webhook", url: "https://ci.example.com/h", secret: "whsec_x" }] : [],
        labels: {},
        timeout_s: 86_400,
      },
      new Date(at),
    );
    store.seed({ ...w, status: "processing", task_type: "import_api", history: [...w.history, { status: "processing", at: w.created_at }] });
  };
  // Background: still running, registered over the last hour, never ending in the run.
  const t0 = vt.now;
  for (let i = 0; i < o.background; i++) seed(`bg-${i}`, t0 - rand() * 60 * 60_000, t0 + 24 * 3600_000, false);

  interface Measured {
    id: string;
    ageMin: number;
    waited: boolean;
    endsAt: number;
    seenAt?: number;
    reads: number;
    /** Reads that wrote the waited mark. */
    marks: number;
    lifeMs: number;
  }
  const measured: Measured[] = [];
  const actors: Array<Promise<void>> = [];
  for (const ageMin of AGES_MIN) {
    for (let k = 0; k < o.perAge * 2; k++) {
      const m: Measured = { id: `a${ageMin}-${k}`, ageMin, waited: k % 2 === 1, endsAt: 0, reads: 0, marks: 0, lifeMs: 0 };
      measured.push(m);
      const regIn = rand() * 60_000;
      const life = ageMin * 60_000 + rand() * 60_000;
      m.lifeMs = life;
      actors.push(
        vt.sleep(regIn).then(async () => {
          m.endsAt = vt.now + life;
          seed(m.id, vt.now, m.endsAt, true);
          if (!m.waited) return;
          // The CLI: read with wait=0, sleep Retry-After, until it sees the end.
          let mark: number | undefined;
          for (;;) {
            const r = await readWatch(deps, "acme", m.id, { waitS: 0 });
            m.reads++;
            if (r.ok && r.watch.waited_until !== mark) (m.marks++, (mark = r.watch.waited_until));
            if (!r.ok || r.retryAfterS === null) {
              m.seenAt = vt.now;
              return;
            }
            await vt.sleep(r.retryAfterS * 1000);
          }
        }),
      );
    }
  }
  const longest = Math.max(...AGES_MIN) + 3;
  const t = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });
  await runSchedule(vt, deps, {
    invocations: longest,
    periodMs: 60_000,
    settings: { concurrency: o.concurrency, apigMaxRps: o.maxRps, loopMs: t.loopMs, reserveMs: t.reserveMs, coverMs: t.coverMs },
    lambdaTimeoutS: t.lambdaTimeoutS,
  });
  await vt.drive(Promise.all(actors));

  // Waited-mark writes: every save made by reads (the loop's saves are the transitions and deliveries, 2 per life here).
  const rows: AgeRow[] = [];
  for (const ageMin of AGES_MIN) {
    for (const waited of [false, true]) {
      const ms = measured.filter((m) => m.ageMin === ageMin && m.waited === waited);
      const lat = ms.filter((m) => sent.has(m.id)).map((m) => (sent.get(m.id)! - m.endsAt) / 1000);
      const seen = ms.filter((m) => m.seenAt !== undefined).map((m) => (m.seenAt! - m.endsAt) / 1000);
      rows.push({
        ageMin,
        waited,
        tasks: lat.length,
        p50S: percentile(lat, 50),
        p99S: percentile(lat, 99),
        clientP50S: waited ? percentile(seen, 50) : null,
        clientP99S: waited ? percentile(seen, 99) : null,
        readsPerLife: waited ? ms.reduce((n, m) => n + m.reads, 0) / ms.length : null,
        marksPerLife: waited ? ms.reduce((n, m) => n + m.marks, 0) / ms.length : null,
        meanLifeS: ms.reduce((n, m) => n + m.lifeMs, 0) / ms.length / 1000,
      });
    }
  }
  return {
    rows,
    settings: `virtual time, invoked every 60 s as deployed (each invocation polls until the next has taken over), ${o.background} background watches aged 0-60 min, APIG ${o.latencyMs} ms, APIG_MAX_RPS ${o.maxRps}, ${o.concurrency} in flight, ${o.perAge} tasks per age and kind, each ending A min + U(0, 60 s) after registration`,
    logBytesPerLife: logBytes / measured.length,
    polls: apig.total,
    wallS: (Date.now() - wall) / 1000,
  };
}

export interface HandoverRow {
  mode: "before" | "after";
  /** How late each successor started, seconds. */
  lateS: number;
  /** Longest stretch with no APIG query around a boundary (5 s before the scheduled start to 10 s after the actual), seconds: median and worst over the boundaries. */
  stretchP50S: number;
  stretchMaxS: number;
  /** Polls closer than the watch's cadence. */
  tooSoon: number;
  /** Poller seconds billed per scheduled minute (all invocations' durations over the minutes run). */
  busySPerMinute: number;
}

/**
 * The minute boundary, before and after the handover, on virtual time with
 * the real invocation code and Lambda's one-invocation-per-container rule
 * (`infra/dev/sim/schedule-sim.ts`): `old` watches aged 30 minutes, a young
 * one registered every 7 s (each running 10 minutes), APIG at `latencyMs`,
 * 4 shards, `minutes` scheduled invocations each starting `lateS` late
 * (every other one, so boundaries alternate between on time and late).
 * "before": the loop ends 2 s before the next schedule (loopMs 58 s, no
 * handover); "after": the shipped timing.
 */
export async function runHandover(o: { old: number; minutes: number; lateS: number; latencyMs: number }): Promise<HandoverRow[]> {
  const { startSim } = await import("../../infra/dev/sim/loop-sim");
  const { runSchedule, longestPollFreeMs } = await import("../../infra/dev/sim/schedule-sim");
  const { pollerTiming } = await import("../../lib/app/timing");
  const { cadenceDelayMs, DEFAULT_CADENCE } = await import("../../lib/domain/cadence");
  const t = pollerTiming({ pollIntervalS: 60, apigTimeoutMs: 10_000 });
  const rows: HandoverRow[] = [];
  for (const mode of ["before", "after"] as const) {
    const sim = startSim({ shards: 4, latencyMs: o.latencyMs });
    const created = new Map<string, number>();
    const t0 = sim.vt.now;
    for (let i = 0; i < o.old; i++) {
      sim.watch(`old-${i}`, 24 * 3600_000);
      const w = sim.store.peek("acme", `old-${i}`)!;
      const at = new Date(t0 - 30 * 60_000 + i * 37).toISOString();
      sim.store.seed({ ...w, created_at: at, history: w.history.map((h) => ({ ...h, at })) });
      created.set(`old-${i}`, Date.parse(at));
    }
    for (let k = 0; k * 7_000 < o.minutes * 60_000; k++) {
      void sim.vt.sleep(k * 7_000).then(() => {
        sim.watch(`young-${k}`, 10 * 60_000);
        created.set(`young-${k}`, sim.vt.now);
      });
    }
    const settings =
      mode === "before"
        ? { concurrency: 64, apigMaxRps: 200, loopMs: 58_000, reserveMs: t.reserveMs }
        : { concurrency: 64, apigMaxRps: 200, loopMs: t.loopMs, reserveMs: t.reserveMs, coverMs: t.coverMs };
    const inv = await runSchedule(sim.vt, sim.deps, {
      invocations: o.minutes,
      periodMs: 60_000,
      settings,
      lambdaTimeoutS: mode === "before" ? 120 : t.lambdaTimeoutS,
      lateMs: (i) => (i % 2 === 1 ? o.lateS * 1000 : 0),
    });
    const polls = [...sim.apig.asked.values()].flat();
    const stretches = inv.slice(1).map((s) => longestPollFreeMs(polls, s.scheduledAt - 5_000, s.startedAt + 10_000) / 1000);
    let tooSoon = 0;
    for (const [id, times] of sim.apig.asked) {
      for (let i = 1; i < times.length; i++) {
        const want = cadenceDelayMs(times[i - 1]! - o.latencyMs - created.get(id)!, DEFAULT_CADENCE);
        if (times[i]! - times[i - 1]! < want - 1) tooSoon++;
      }
    }
    // The last invocation has no successor: count the minutes before it.
    const billed = inv.slice(0, -1).reduce((n, x) => n + (x.endedAt - x.startedAt), 0) / 1000;
    rows.push({ mode, lateS: o.lateS, stretchP50S: percentile(stretches, 50), stretchMaxS: Math.max(...stretches), tooSoon, busySPerMinute: billed / (inv.length - 1) });
  }
  return rows;
}
