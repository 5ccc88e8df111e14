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

/** Where an async import or export is submitted. */
export interface SubmitTarget {
  region: string;
  projectId: string;
  instanceId: string;
}

/** An async import: the document and APIG's form fields besides the file. */
export interface ImportSubmission extends SubmitTarget {
  /** The upload's file name (APIG tells JSON from YAML by it). */
  fileName: string;
  spec: string;
  /** `is_create_group`, `group_id`, `extend_mode`, ... as form field values. */
  fields: Record<string, string>;
}

/** An async export: APIG's JSON body and the `oas_version` query parameter. */
export interface ExportSubmission extends SubmitTarget {
  body: Record<string, unknown>;
  oasVersion?: string;
}

/**
 * What APIG answered to a submission: its task id, a refusal (4xx, with its
 * error code and message), or no usable answer after the retries.
 */
export type SubmitResult =
  | { ok: true; taskId: string }
  | { ok: false; kind: "rejected"; http_status: number; error_code: string; error_msg: string }
  | { ok: false; kind: "unavailable"; message: string };

/** APIG's async-import and async-export calls. Never throws for what APIG or the network do. */
export interface TaskSubmitter {
  submitImport(s: ImportSubmission): Promise<SubmitResult>;
  submitExport(s: ExportSubmission): Promise<SubmitResult>;
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
