/**
 * The ports the use cases need, implemented by the adapters: the watch
 * repository (`store/`), the APIG task query (`otc/`), the notification
 * sender (`notify/`) and the logger (`platform/`).
 */
import type { SendOutcome } from "../domain/delivery";
import type { ApigObservation } from "../domain/lifecycle";
import type { NotifyTarget } from "../domain/target";
import type { Watch } from "../domain/watch";
import type { WatchView } from "../domain/watch-view";

/** Which APIG task to ask about. */
export interface TaskRef {
  /** The watch's region: it chooses the APIG endpoint (and IAM) the task is asked at. */
  region: string;
  projectId: string;
  instanceId: string;
  taskId: string;
}

/** Anything that can answer an APIG task query (the real client or a test double). Never throws for what APIG or the network do. */
export interface TaskQuery {
  queryTask(ref: TaskRef): Promise<ApigObservation>;
}

/** Sends one notification try; never throws for what a receiver does. */
export interface Sender {
  send(target: NotifyTarget, view: WatchView, eventId: string, now: Date): Promise<SendOutcome>;
}

/** A page of a tenant's watches. */
export interface WatchPage {
  items: Watch[];
  nextCursor: string | null;
}

/** Where watches live. Every change is conditional on the version read before. */
export interface WatchRepository {
  /** Store a new watch unless one exists for (tenant, task id); else return the existing one. */
  create(w: Watch): Promise<{ created: true; watch: Watch } | { created: false; existing: Watch }>;
  /** One watch, strongly consistent; null when the tenant has no such watch. */
  get(tenant: string, taskId: string): Promise<Watch | null>;
  /**
   * Replace a watch if nobody changed it since it was read at `w.version`.
   * @param leaseUntil epoch ms until which this writer owns the deliveries
   */
  save(w: Watch, leaseUntil?: number): Promise<Watch | "conflict">;
  /** A tenant's watches, newest first; throws `InvalidCursorError` for a cursor we did not issue. */
  list(tenant: string, q: { status?: string; limit: number; cursor?: string }): Promise<WatchPage>;
  /** The partitions of the due set, for a tick to walk. */
  dueShards(): string[];
  /** Watches with work due at or before `now` in one partition, oldest first. */
  due(shard: string, now: number, limit: number): Promise<Watch[]>;
  /** Cheap liveness probe. */
  ping(): Promise<void>;
}

/** A cursor of `GET /tasks` that did not come from us (or from another tenant). */
export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
}

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Structured log lines, one per event; callers pass facts, never secrets. */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** One APIG fault that says the region, not the task, is in trouble. */
export interface RegionFault {
  region: string;
  /** `auth`: APIG or IAM refused our credentials; `connection`: APIG could not be reached or did not answer. */
  kind: "auth" | "connection";
  /** APIG's `error_code` (`APIG.1002`), or ours (`ECONNREFUSED`, `timeout`, `iam_unauthorized`). */
  code: string;
}

/**
 * The metrics hook for region faults: told about every one. Wire it to a
 * metrics library (one counter with region, kind and code as dimensions).
 */
export interface FaultObserver {
  fault(f: RegionFault): void;
}

/** What the poller last knew about one region's APIG, as persisted for `GET /health`. */
export interface RegionHealthRecord {
  region: string;
  /** The latest good answer (any answer that is not an auth or connection fault). */
  last_ok_at: string | null;
  /** The latest auth or connection fault, with APIG's code. */
  last_fault_at: string | null;
  last_code: string | null;
  last_http_status: number | null;
  /** When this record was written. */
  updated_at: string;
}

/** Where the poller leaves its health for the API to read (the table, in `health` items). */
export interface HealthStore {
  putRegion(r: RegionHealthRecord): Promise<void>;
  /** The poller ran (a tick finished) at `at`. */
  putPollerRun(at: string): Promise<void>;
  /** Everything written so far; throws when the table does not answer. */
  read(): Promise<{ pollerRunAt: string | null; regions: RegionHealthRecord[] }>;
}
