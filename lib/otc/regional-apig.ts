/**
 * APIG across regions: one {@link TaskQuery} (client, connection pool and,
 * for IAM users, token cache) per served region, chosen by the watch's
 * `region`. A region this deployment does not serve is never asked at
 * another region's endpoint.
 */
import type { TaskQuery, TaskRef } from "../app/ports";
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
