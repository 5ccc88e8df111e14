/**
 * Watching each region's APIG as a whole: every answer is sorted into good,
 * an authentication fault or a connection fault. Faults are counted (the
 * {@link FaultObserver} metrics hook), logged once per region every few
 * minutes with APIG's code while they persist (no good answer for a minute), and the poller persists the state per region at
 * most once a minute, so `GET /health` in another process can name a region
 * whose credentials or endpoint are wrong.
 */
import { faultOf } from "../domain/apig-fault";
import type { ApigObservation } from "../domain/lifecycle";
import { DEFAULT_CREDENTIAL_SET } from "../domain/tenancy";
import type { FaultObserver, HealthStore, Logger, RegionFault, RegionHealthRecord, TaskQuery } from "./ports";

/** Whether an answer is a fault of the region (credentials, reachability) rather than of one task. */
export function regionFaultOf(region: string, obs: ApigObservation): RegionFault | null {
  const fault = faultOf(obs);
  if (obs.ok || fault === null) return null;
  if (fault === "auth") return { region, kind: "auth", code: obs.code };
  // No HTTP answer at all: refused, reset, DNS, TLS, timeout.
  if (fault === "unreachable") return { region, kind: "connection", code: obs.code };
  return null;
}

/** A {@link FaultObserver} that only counts, per `region kind code`; the default until a metrics library is wired. */
export function countingFaults(): FaultObserver & { counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return {
    counts,
    fault(f) {
      const k = `${f.region} ${f.kind} ${f.code}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    },
  };
}

export interface RegionHealthOptions {
  store: HealthStore;
  clock: () => Date;
  log: Logger;
  faults: FaultObserver;
  /**
   * Least time between two writes of one region's record (and of the
   * poller's run). Default 55 s: about one a minute, and a scheduled run that
   * comes a little early still writes.
   */
  writeEveryMs?: number;
  /** Least time between two log lines about one region's faults. Default 5 min. */
  logEveryMs?: number;
}

interface RegionState {
  record: RegionHealthRecord;
  dirty: boolean;
  writtenAt: number | null;
  loggedAt: number | null;
  faultsSinceLog: number;
  /** A failing line went out and no recovery line since. */
  reported: boolean;
}

/** A fault is persistent, and worth a log line, when the region has not answered well for this long (or ever). */
const PERSISTENT_MS = 60_000;

/** Per-process tracker of region health; `observe` is synchronous and cheap, `flush` writes. */
export class RegionHealth {
  private readonly regions = new Map<string, RegionState>();
  private pollerWrittenAt: number | null = null;
  private readonly writeEveryMs: number;
  private readonly logEveryMs: number;

  constructor(private readonly opts: RegionHealthOptions) {
    this.writeEveryMs = opts.writeEveryMs ?? 55_000;
    this.logEveryMs = opts.logEveryMs ?? 300_000;
  }

  /** Wrap a task query so every answer it gives is observed. */
  observing(apig: TaskQuery): TaskQuery {
    return {
      queryTask: async (ref) => {
        const obs = await apig.queryTask(ref);
        this.observe(ref.region, obs, ref.credentialSet);
        return obs;
      },
    };
  }

  /** One answer from `region`'s APIG to a query made with `credentialSet` (each set is tracked on its own). */
  observe(region: string, obs: ApigObservation, credentialSet: string = DEFAULT_CREDENTIAL_SET): void {
    const now = this.opts.clock();
    const at = now.toISOString();
    const key = `${credentialSet}\n${region}`;
    const named = credentialSet === DEFAULT_CREDENTIAL_SET ? {} : { credential_set: credentialSet };
    let s = this.regions.get(key);
    if (!s) {
      s = {
        record: { region, ...named, last_ok_at: null, last_fault_at: null, last_code: null, last_http_status: null, updated_at: at },
        dirty: true,
        writtenAt: null,
        loggedAt: null,
        faultsSinceLog: 0,
        reported: false,
      };
      this.regions.set(key, s);
    }
    const fault = regionFaultOf(region, obs);
    if (fault === null) {
      s.record.last_ok_at = at;
      s.dirty = true;
      if (s.reported) {
        this.opts.log.info("apig_region_recovered", { region, credential_set: credentialSet, code: s.record.last_code });
        s.reported = false;
      }
      return;
    }
    this.opts.faults.fault(fault);
    s.record.last_fault_at = at;
    s.record.last_code = fault.code;
    s.record.last_http_status = obs.ok ? null : obs.http_status;
    s.dirty = true;
    s.faultsSinceLog++;
    // A lone timeout among good answers is a task's bad luck, not the region's;
    // and a flapping region gets one line per interval, not one per flap.
    const persistent = s.record.last_ok_at === null || now.getTime() - Date.parse(s.record.last_ok_at) >= PERSISTENT_MS;
    if (persistent && (s.loggedAt === null || now.getTime() - s.loggedAt >= this.logEveryMs)) {
      // Code and status only: an APIG message is safe, but an IAM or network one need not be.
      this.opts.log.error("apig_region_failing", {
        region,
        credential_set: credentialSet,
        kind: fault.kind,
        code: fault.code,
        http_status: s.record.last_http_status,
        faults: s.faultsSinceLog,
        last_ok_at: s.record.last_ok_at,
      });
      s.loggedAt = now.getTime();
      s.faultsSinceLog = 0;
      s.reported = true;
    }
  }

  /**
   * Persist what changed, at most once per `writeEveryMs` per region, and
   * note that the poller ran. Called by the poller after each round of polls;
   * never throws (health must not stop polling).
   */
  async flush(opts: { pollerRan?: boolean } = {}): Promise<void> {
    const now = this.opts.clock();
    const due = (t: number | null) => t === null || now.getTime() - t >= this.writeEveryMs;
    const writes: Array<Promise<void>> = [];
    for (const s of this.regions.values()) {
      if (!s.dirty || !due(s.writtenAt)) continue;
      const record = { ...s.record, updated_at: now.toISOString() };
      s.dirty = false;
      s.writtenAt = now.getTime();
      writes.push(this.opts.store.putRegion(record));
    }
    if (opts.pollerRan && due(this.pollerWrittenAt)) {
      this.pollerWrittenAt = now.getTime();
      writes.push(this.opts.store.putPollerRun(now.toISOString()));
    }
    const results = await Promise.allSettled(writes);
    if (results.some((r) => r.status === "rejected")) this.opts.log.warn("health_write_failed", {});
  }
}
