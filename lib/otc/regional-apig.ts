/**
 * APIG across regions: one {@link TaskQuery} (client, connection pool and,
 * for IAM users, token cache) per served region, chosen by the watch's
 * `region`. A region this deployment does not serve is never asked at
 * another region's endpoint.
 */
import type { ExportSubmission, ImportSubmission, SubmitResult, TaskQuery, TaskRef, TaskSubmitter } from "../app/ports";
import type { ApigObservation } from "../domain/lifecycle";

/** Routes each query to its region's client. */
export class RegionalTaskQuery implements TaskQuery {
  constructor(private readonly byRegion: ReadonlyMap<string, TaskQuery>) {}

  /** The regions served, in configuration order. */
  regions(): string[] {
    return [...this.byRegion.keys()];
  }

  queryTask(ref: TaskRef): Promise<ApigObservation> {
    const client = this.byRegion.get(ref.region);
    if (client === undefined) {
      // A watch stored before its region was dropped from REGIONS: retried
      // (the configuration may come back) until its deadline, visibly.
      return Promise.resolve({
        ok: false,
        category: "transient",
        code: "unknown_region",
        message: `region ${ref.region} is not served by this deployment (served: ${this.regions().join(", ")})`,
        http_status: null,
      });
    }
    return client.queryTask(ref);
  }
}

/** Routes each submission to its region's APIG, like {@link RegionalTaskQuery}. */
export class RegionalSubmitter implements TaskSubmitter {
  constructor(private readonly byRegion: ReadonlyMap<string, TaskSubmitter>) {}

  private of(region: string): TaskSubmitter | SubmitResult {
    return (
      this.byRegion.get(region) ?? {
        ok: false,
        kind: "unavailable",
        message: `region ${region} is not served by this deployment (served: ${[...this.byRegion.keys()].join(", ")})`,
      }
    );
  }

  async submitImport(s: ImportSubmission): Promise<SubmitResult> {
    const to = this.of(s.region);
    return "submitImport" in to ? to.submitImport(s) : to;
  }

  async submitExport(s: ExportSubmission): Promise<SubmitResult> {
    const to = this.of(s.region);
    return "submitExport" in to ? to.submitExport(s) : to;
  }
}
