/** What the HTTP API runs on: the use cases' dependencies plus the API's own settings. */
import type { WatchDeps } from "../app/deps";
import type { CadenceRules } from "../domain/cadence";
import type { HealthReport } from "../app/health-report";
import type { TaskSubmitter } from "../app/ports";
import type { WatchDefaults } from "../app/watch-options";
import type { ApiKeyHash } from "./auth";

export interface ApiDeps extends WatchDeps, WatchDefaults {
  /** APIG's async-import and async-export, for `POST /imports` and `POST /exports`. */
  submitter: TaskSubmitter;
  apiKeys: ApiKeyHash[];
  allowPrivateTargets: boolean;
  /** The poller's cadence, which `Retry-After` follows (default: the shipped one). */
  cadence?: CadenceRules;
  /** `EVENTBRIDGE_BUS_ARNS`: the buses a target may name. */
  eventBusArns?: readonly string[];
  /** Where a client reads a watch without API Gateway (`READ_URL`); named in answers' `Link: rel="monitor"`. */
  readUrl?: string | null;
  /** The routes this function answers, as `METHOD /path` (`SERVED_ROUTES`); every route when absent. */
  servedRoutes?: readonly string[] | null;
  /** The `GET /health` report (cached per container), or null when the table does not answer. */
  healthReport: () => Promise<HealthReport | null>;
}
