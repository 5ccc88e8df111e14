/**
 * APIG across credential sets and regions: one {@link TaskQuery} (client,
 * connection pool and, for IAM users, token cache) per (credential set,
 * served region), chosen by the watch's `credentialSet` and `region`. A
 * region this deployment does not serve is never asked at another region's
 * endpoint, and a watch is never polled with another set's credentials.
 */
import type { ExportSubmission, ImportSubmission, SubmitResult, TaskQuery, TaskRef, TaskSubmitter } from "../app/ports";
import type { ApigObservation } from "../domain/lifecycle";
import { DEFAULT_CREDENTIAL_SET } from "../domain/tenancy";

/** Clients by credential set, then by region. */
export type BySetAndRegion<T> = ReadonlyMap<string, ReadonlyMap<string, T>>;

/** Why no client serves (set, region), or null when one does. */
function missing<T>(all: BySetAndRegion<T>, set: string, region: string): string | null {
  const bySet = all.get(set);
  if (bySet === undefined) return `credential set ${set} is not configured here (OTC_CREDENTIALS has: ${[...all.keys()].join(", ")})`;
  if (!bySet.has(region)) return `region ${region} is not served by this deployment (served: ${[...bySet.keys()].join(", ")})`;
  return null;
}

/** Routes each query to its (credential set, region) client. */
export class RegionalTaskQuery implements TaskQuery {
  constructor(private readonly clients: BySetAndRegion<TaskQuery>) {}

  /** The regions served, in configuration order. */
  regions(): string[] {
    return [...(this.clients.values().next().value?.keys() ?? [])];
  }

  queryTask(ref: TaskRef): Promise<ApigObservation> {
    const set = ref.credentialSet ?? DEFAULT_CREDENTIAL_SET;
    const why = missing(this.clients, set, ref.region);
    if (why !== null) {
      // A watch stored before its region (or set) was dropped from the
      // configuration: retried (it may come back) until its deadline, visibly.
      return Promise.resolve({
        ok: false,
        category: "transient",
        code: this.clients.has(set) ? "unknown_region" : "unknown_credential_set",
        message: why,
        http_status: null,
      });
    }
    return this.clients.get(set)!.get(ref.region)!.queryTask(ref);
  }
}

/** Routes each submission to its (credential set, region) APIG, like {@link RegionalTaskQuery}. */
export class RegionalSubmitter implements TaskSubmitter {
  constructor(private readonly clients: BySetAndRegion<TaskSubmitter>) {}

  private of(set: string | undefined, region: string): TaskSubmitter | SubmitResult {
    const s = set ?? DEFAULT_CREDENTIAL_SET;
    const why = missing(this.clients, s, region);
    return why === null ? this.clients.get(s)!.get(region)! : { ok: false, kind: "unavailable", message: why };
  }

  async submitImport(s: ImportSubmission): Promise<SubmitResult> {
    const to = this.of(s.credentialSet, s.region);
    return "submitImport" in to ? to.submitImport(s) : to;
  }

  async submitExport(s: ExportSubmission): Promise<SubmitResult> {
    const to = this.of(s.credentialSet, s.region);
    return "submitExport" in to ? to.submitExport(s) : to;
  }
}
