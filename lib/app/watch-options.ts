/**
 * A request's watch options (region, targets, labels, timeout) completed with
 * this deployment's defaults, for every use case that creates a watch.
 */
import { type Labels, labelsFrom } from "../domain/labels";
import type { Registration, TargetSpec } from "./register";

/** The defaults a deployment fills in, and the regions it serves. */
export interface WatchDefaults {
  defaultRegion: string;
  defaultTimeoutS: number;
  defaultTargets: TargetSpec[];
  /** The regions served; a watch for any other is refused. */
  regions: string[];
}

/** What a request may say about the watch besides the task. */
export interface WatchOptionsInput {
  project_id: string;
  instance_id: string;
  region?: string | undefined;
  targets?: TargetSpec[] | undefined;
  labels?: Labels | undefined;
  timeout_s?: number | undefined;
}

export type WatchOptionsResult =
  | { ok: true; value: Omit<Registration, "task_id"> }
  | { ok: false; reason: "unknown_region"; region: string; served: string[] };

/**
 * The watch a request asks for, with this deployment's defaults. A region this
 * deployment does not serve is refused: it would be polled at the wrong endpoint. Pure.
 */
export function watchOptions(d: WatchDefaults, input: WatchOptionsInput): WatchOptionsResult {
  const region = input.region ?? d.defaultRegion;
  if (!d.regions.includes(region)) return { ok: false, reason: "unknown_region", region, served: d.regions };
  return {
    ok: true,
    value: {
      project_id: input.project_id,
      instance_id: input.instance_id,
      region,
      targets: input.targets ?? d.defaultTargets,
      labels: input.labels ?? labelsFrom([]),
      timeout_s: input.timeout_s ?? d.defaultTimeoutS,
    },
  };
}
