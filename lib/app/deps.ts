/** What the use cases that touch one watch run on: the ports, the clock, and the rules from configuration. */
import type { TransitionRules } from "../domain/lifecycle";
import type { Tenancy } from "../domain/tenancy";
import type { ExportDeps } from "./exports";
import type { Logger, Metrics, Sender, TaskQuery, WatchRepository } from "./ports";
import type { RegionHealth } from "./region-health";
import type { SubscriptionRepository } from "./subscriptions";

export interface WatchDeps extends ExportDeps {
  store: WatchRepository;
  apig: TaskQuery;
  sender: Sender;
  clock: () => Date;
  /** Resolves after `ms` on the deps' clock, or at once when `signal` aborts (tests pass a virtual one). */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  log: Logger;
  metrics: Metrics;
  rules: TransitionRules;
  retryScheduleS: readonly number[];
  /** How long a writer owns a watch's deliveries; longer than one round of tries (see `app/timing.ts`). */
  leaseMs: number;
  /** Region health, observed on every APIG answer; the poller persists it (`flush`) after each round. */
  health: Pick<RegionHealth, "flush">;
  /** Standing routes whose targets join a watch's outbox as it turns terminal; none when absent. */
  subscriptions?: SubscriptionRepository;
  /** Scopes and credential sets per tenant; absent: unscoped, every watch on `default`. */
  tenancy?: Tenancy;
}
