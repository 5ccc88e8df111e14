/**
 * `GET /health`: the table answers (else 503), the poller ran in the last 3
 * minutes, and no region's APIG answered only authentication or connection
 * faults for the last 5 minutes. Built from the `health` items the poller
 * writes, and cached per container so the route does not read the table on
 * every call.
 */
import type { HealthStore, RegionHealthRecord } from "./ports";

export const POLLER_STALE_MS = 3 * 60_000;
export const REGION_WINDOW_MS = 5 * 60_000;

export interface HealthReport {
  status: "ok" | "degraded";
  checks: {
    table: { status: "ok" };
    poller: { status: "ok" | "degraded"; last_run_at: string | null; message?: string };
    /** By region, or `region/set` for a credential set other than `default`. */
    regions: Record<
      string,
      { status: "ok" | "degraded"; region: string; credential_set: string; code: string | null; http_status: number | null; last_ok_at: string | null; message?: string }
    >;
  };
}

/** The report for what the store holds at `now`; pure. */
export function healthReport(read: { pollerRunAt: string | null; regions: RegionHealthRecord[] }, now: Date): HealthReport {
  const t = now.getTime();
  const pollerOk = read.pollerRunAt !== null && t - Date.parse(read.pollerRunAt) <= POLLER_STALE_MS;
  const regions: HealthReport["checks"]["regions"] = Object.create(null) as HealthReport["checks"]["regions"];
  for (const r of read.regions) {
    const since = t - REGION_WINDOW_MS;
    const faulted = r.last_fault_at !== null && Date.parse(r.last_fault_at) > since;
    const answered = r.last_ok_at !== null && Date.parse(r.last_ok_at) > since;
    const degraded = faulted && !answered;
    const set = r.credential_set ?? "default";
    const named = r.credential_set === undefined ? "" : ` with credential set ${set}`;
    regions[r.credential_set === undefined ? r.region : `${r.region}/${set}`] = {
      status: degraded ? "degraded" : "ok",
      region: r.region,
      credential_set: set,
      code: r.last_code,
      http_status: r.last_http_status,
      last_ok_at: r.last_ok_at,
      ...(degraded
        ? {
            message: `APIG in ${r.region}${named} answered only ${r.last_http_status === 401 || r.last_code?.startsWith("iam_") ? "authentication failures" : "authentication or connection failures"} in the last 5 minutes (last: ${r.last_code})`,
          }
        : {}),
    };
  }
  const degraded = !pollerOk || Object.values(regions).some((r) => r.status === "degraded");
  return {
    status: degraded ? "degraded" : "ok",
    checks: {
      table: { status: "ok" },
      poller: {
        status: pollerOk ? "ok" : "degraded",
        last_run_at: read.pollerRunAt,
        ...(pollerOk ? {} : { message: read.pollerRunAt === null ? "the poller has not run yet" : "the poller has not run in the last 3 minutes" }),
      },
      regions,
    },
  };
}

/**
 * `GET /health` answers, one table read per `ttlMs` per container; `null` when the table does not answer.
 * @param onError told why the read failed (an AccessDenied is a missing grant, not an outage: the caller logs which)
 */
export function cachedHealth(
  store: HealthStore,
  clock: () => Date,
  ttlMs: number,
  onError: (err: unknown) => void = () => {},
): () => Promise<HealthReport | null> {
  let cached: { at: number; report: Promise<HealthReport | null> } | null = null;
  return () => {
    const now = clock();
    if (cached !== null && now.getTime() - cached.at < ttlMs) return cached.report;
    const report = store.read().then(
      (r) => healthReport(r, clock()),
      (err: unknown) => {
        onError(err);
        return null;
      },
    );
    cached = { at: now.getTime(), report };
    return report;
  };
}
