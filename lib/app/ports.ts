/**
 * The ports the use cases need, implemented by the adapters: the watch
 * repository (`store/`), the APIG task query (`otc/`), the notification
 * sender (`notify/`), the logger and the metrics (`aws/`).
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
  /** The credential set the watch was registered with; `default` when absent. */
  credentialSet?: string;
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
  /** The submitting tenant's credential set; `default` when absent. */
  credentialSet?: string;
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

/** How a try is sent: `test` makes it a `task.test` event (`POST /targets/test`). */
export interface SendOptions {
  test?: boolean;
}

/** Sends one notification try; never throws for what a receiver does. */
export interface Sender {
  send(target: NotifyTarget, view: WatchView, eventId: string, now: Date, opts?: SendOptions): Promise<SendOutcome>;
}

/**
 * What a poll needs that the due index carries (projected from the item), so
 * polling needs no item read: the task's address, which never changes, and
 * the state the last stored answer left, to tell whether a new answer
 * changes anything. Absent for entries written before the projection.
 */
export interface PollFacts {
  projectId: string;
  instanceId: string;
  region: string;
  /** Epoch ms of registration. */
  createdAt: number;
  /** Epoch ms after which a running task is `timed_out`. */
  deadlineAt: number;
  /** The watch as the last write left it: what a poll compares APIG's answer with. */
  seen: Pick<Watch, "status" | "task_type" | "last_error" | "not_found_since">;
  /** Epoch ms until which a client waits on it (polled at the young cadence until then); null when none. */
  waitedUntil: number | null;
  /** The OTC credential set the watch is polled with (`TENANT_CREDENTIALS`); null: `default`. */
  credentialSet: string | null;
}

/** A watch's entry in the due index: which watch, and since when (registration time or next retry). */
export interface DueKey {
  tenant: string;
  taskId: string;
  dueAt: number;
  /** Present when the index carries the poll's facts (every item written since the projection). */
  poll?: PollFacts;
}

/** A due entry with the shard it was found in. */
export interface ShardedDueKey extends DueKey {
  shard: string;
}

/**
 * Per due shard, what the poller last served, kept in the table so a fresh
 * container knows what a warm one did: the shard's watches are spread over
 * {@link SWEEP_BUCKETS} buckets by a hash of their key, and each bucket holds
 * the time of the oldest last poll among its watches when it was written
 * (0: never served). Written at the end of an invocation that read the shard.
 */
export interface SweepRecord {
  shard: string;
  /** Epoch ms the record was written. */
  at: number;
  /** Open watches in the shard when written. */
  open: number;
  /** Per bucket: epoch ms every watch in it had been polled by (0 = unknown). */
  buckets: number[];
  /** The round (`PollRound.round`) of the invocation that wrote it: written when it let the shard go (`handover.ts`). */
  round?: number;
  /** Each watch's next poll as the writer had it scheduled, packed (`handover.ts`), so its successor goes on where it stopped. */
  next?: string;
}

/**
 * The scheduled invocations' handover (`handover.ts`): the latest scheduled
 * invocation's start, and how long an invocation of that round polls at most.
 */
export interface PollRound {
  /** Epoch ms the scheduled (coordinator) invocation started; its workers share it. */
  round: number;
  /** Epoch ms after which no invocation of this round polls. */
  coverUntil: number;
  /** Set when the round ended with nothing open (an idle coordinator): its successor need not wait for it. */
  ended?: boolean;
}

/** Buckets of a {@link SweepRecord}: a shard's partial progress is kept to within 1/64 of it. */
export const SWEEP_BUCKETS = 64;

/** A page of a tenant's watches. */
export interface WatchPage {
  items: Watch[];
  nextCursor: string | null;
}

/**
 * What {@link WatchRepository.update} should do with the watch as it reads
 * it now: write a changed copy (conditional on the version read), or answer
 * without writing.
 */
export type Decision<A> = { write: Watch; leaseUntil?: number } | { answer: A };

/** How an update ended; `busy` when other writers kept winning (with the copy read last). */
export type UpdateResult<A> =
  | { kind: "written"; watch: Watch }
  | { kind: "answered"; answer: A }
  | { kind: "not_found" }
  | { kind: "busy"; latest: Watch | null };

/** A listing, or `invalid_cursor` for a cursor we did not issue (or issued to another tenant). */
export type ListResult = { ok: true; page: WatchPage } | { ok: false; reason: "invalid_cursor" };

/** Where watches live. Every change is conditional on the version read before. */
export interface WatchRepository {
  /** Store a new watch unless one exists for (tenant, task id); else return the existing one. */
  create(w: Watch): Promise<{ created: true; watch: Watch } | { created: false; existing: Watch }>;
  /**
   * One watch; null when the tenant has no such watch. Strongly consistent
   * unless `consistent: false`: half the read units, and it may not yet
   * show a write of the last second or so.
   */
  get(tenant: string, taskId: string, o?: { consistent?: boolean }): Promise<Watch | null>;
  /**
   * Replace a watch if nobody changed it since it was read at `w.version`.
   * @param leaseUntil epoch ms until which this writer owns the deliveries
   */
  save(w: Watch, leaseUntil?: number): Promise<Watch | "conflict">;
  /**
   * Read, decide, write conditionally, and on a lost race read again and
   * decide afresh (at most `tries` times, default 5): the one read-modify-write
   * every use case that changes a stored watch goes through.
   * @param opts.current a copy already in hand, used for the first try instead of a read
   */
  update<A>(
    tenant: string,
    taskId: string,
    decide: (current: Watch) => Decision<A> | Promise<Decision<A>>,
    opts?: { current?: Watch; tries?: number },
  ): Promise<UpdateResult<A>>;
  /** A tenant's watches, newest first. */
  list(tenant: string, q: { status?: string; limit: number; cursor?: string }): Promise<ListResult>;
  /** The partitions of the due set, for the poller to walk (or split among invocations). */
  dueShards(): string[];
  /**
   * Keys of the watches with work due in one partition, every page: those
   * with `after < due_at <= upTo` (`after` omitted: all due by `upTo`).
   * Eventually consistent; the version check on write makes a stale entry harmless.
   */
  dueKeys(shard: string, range: { after?: number; upTo: number }): Promise<DueKey[]>;
  /**
   * Every due entry in a shard beyond `dueShards()`, up to the largest shard
   * count allowed: entries written while `DUE_SHARDS` was higher.
   */
  strayDueKeys(): Promise<ShardedDueKey[]>;
  /**
   * Move a stray entry to the shard its key hashes to now, changing nothing
   * else (not the version: a writer holding the watch is not disturbed).
   * @returns false when the entry was no longer in that shard
   */
  reshard(key: ShardedDueKey): Promise<boolean>;
  /**
   * Several watches at once, strongly consistent (BatchGetItem): those found,
   * and those whose stored item does not parse; the missing ones are in neither.
   */
  getMany(keys: ReadonlyArray<{ tenant: string; taskId: string }>): Promise<{ found: Watch[]; malformed: Array<{ tenant: string; taskId: string }> }>;
  /** The stored sweep records of `shards` (eventually consistent unless `consistent`); a shard never written is absent. */
  readSweeps(shards: readonly string[], opts?: { consistent?: boolean }): Promise<SweepRecord[]>;
  /** The latest poll round (strongly consistent), or null before the first. */
  readRound(): Promise<PollRound | null>;
  /** Start a new round (a scheduled invocation): replaces the stored one. */
  startRound(r: PollRound): Promise<void>;
  /** Mark `r` ended, unless a newer round has started since. @returns false when one has */
  endRound(r: PollRound): Promise<boolean>;
  /** Replace a shard's sweep record (last writer wins: overlapping invocations both report what they served). */
  writeSweep(r: SweepRecord): Promise<void>;
}

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Structured log lines, one per event; callers pass facts, never secrets. */
export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** Dimensions of one metric value besides the deployment's `service`, e.g. `{ region: "eu-de" }`. */
export type MetricDims = Record<string, string>;

/** CloudWatch units the use cases report in. */
export type MetricUnit = "Count" | "Milliseconds" | "Seconds";

/**
 * Numbers an operator graphs and alarms on (CloudWatch EMF in AWS). Buffered;
 * the shell that owns an invocation flushes them, so a use case only records.
 * Names and dimensions are the catalogue in `app/telemetry.ts`.
 */
export interface Metrics {
  /** Add `value` (default 1) to a counter. */
  count(name: string, dims?: MetricDims, value?: number): void;
  /** Record one observation (a latency, an age) to be graphed as a distribution or maximum. */
  observe(name: string, value: number, unit: MetricUnit, dims?: MetricDims): void;
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
  /** The credential set the answers came with; absent for `default`. */
  credential_set?: string;
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
  /** The poller ran (an invocation read the due index) at `at`. */
  putPollerRun(at: string): Promise<void>;
  /** Everything written so far; throws when the table does not answer. */
  read(): Promise<{ pollerRunAt: string | null; regions: RegionHealthRecord[] }>;
}
