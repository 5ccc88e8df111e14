/**
 * The poll loop's reads of the due index and of the shards' sweep records:
 * each shard's due set in full at most once a minute (or as the fan-out
 * coordinator just read it), in between only the entries that appeared since
 * the last read (registrations, retries come due), and every entry turned
 * into a followed watch with its place in line (`poll-schedule.ts`).
 */
import type { DueKey, SweepRecord, WatchRepository } from "./ports";
import { type Entry, keyOf, type PollerState, type PollSchedule } from "./poll-schedule";
import { scheduledIn } from "./handover";
import { storedLastPoll } from "./sweep";

export interface DueReadOptions {
  /** The due-index shards this invocation owns. */
  shards: string[];
  /** The due set of a shard is read in full at most this often. */
  fullReadEveryMs: number;
  /** How far back a pickup looks before the previous read's end, for index propagation lag. */
  pickupOverlapMs: number;
  /** Shards whose due set the caller has just read in full (the fan-out coordinator's sample). */
  preread?: Map<string, { keys: DueKey[]; at: number }>;
  /** Every first-seen watch is due at once (a one-round tick). */
  atOnce: boolean;
}

/** Counted for the loop's summary. */
export interface DueReadCounts {
  fullReads: number;
  pickups: number;
}

/** The same answer state, as the index shows it and as we last knew it. */
function sameSeen(a: DueKey["poll"], b: DueKey["poll"] | null): boolean {
  const text = (p: DueKey["poll"] | null) => {
    if (!p) return "";
    const { status, task_type, last_error: e, not_found_since } = p.seen;
    return [status, task_type, e?.code, e?.http_status, e?.at, not_found_since].join("|");
  };
  return text(a) === text(b);
}

export class DueReader {
  private readonly preread: Map<string, { keys: DueKey[]; at: number }>;
  /** The sweep records as read at the start of the invocation, by shard. */
  readonly records = new Map<string, SweepRecord>();
  /** Shards whose due set this reader has read (so their watches in memory are the shard's). */
  readonly read = new Set<string>();

  constructor(
    private readonly deps: { store: WatchRepository; clock: () => Date },
    private readonly state: PollerState,
    private readonly schedule: PollSchedule,
    private readonly opts: DueReadOptions,
    private readonly counts: DueReadCounts,
  ) {
    this.preread = new Map(opts.preread ?? []);
  }

  /** Read the stored sweep records of `shards` (the owned ones, and any whose backlog this invocation reports). */
  async readRecords(shards: readonly string[], opts: { consistent?: boolean } = {}): Promise<void> {
    for (const r of await this.deps.store.readSweeps(shards, opts)) this.records.set(r.shard, r);
  }

  /**
   * Read the due index: in full when a minute has passed for a shard, else only what is new.
   * @returns the watches seen for the first time whose entry carries no poll facts (their items are to be read)
   */
  async refresh(): Promise<Entry[]> {
    const bare: Entry[] = [];
    await Promise.all(this.opts.shards.map((shard) => this.refreshShard(shard, bare)));
    return bare;
  }

  private async refreshShard(shard: string, bare: Entry[]): Promise<void> {
    const { state, schedule, opts } = this;
    const pre = this.preread.get(shard);
    this.preread.delete(shard);
    const now = pre?.at ?? this.deps.clock().getTime();
    const last = state.fullReadAt.get(shard);
    const full = pre !== undefined || last === undefined || now - last >= opts.fullReadEveryMs;
    const after = full ? undefined : (state.readUpTo.get(shard) ?? now) - opts.pickupOverlapMs;
    const keys = pre?.keys ?? (await this.deps.store.dueKeys(shard, { ...(after !== undefined ? { after } : {}), upTo: now }));
    if (full) {
      this.counts.fullReads++;
      state.fullReadAt.set(shard, now);
    } else this.counts.pickups++;
    state.readUpTo.set(shard, now);
    this.read.add(shard);
    const record = this.records.get(shard);
    const seen = new Set<string>();
    for (const k of keys) {
      const key = keyOf(k.tenant, k.taskId);
      seen.add(key);
      const known = state.entries.get(key);
      if (!known) {
        const e = schedule.admit(k, shard, now, record, opts.atOnce);
        if (e.facts === null) bare.push(e);
        continue;
      }
      if (known.inFlight) continue;
      // Moved in the index, or a new state written by another writer (a
      // redelivery, a retry it scheduled, a poll elsewhere that saw a
      // change): our copy is stale, read it again now.
      if (known.indexDueAt !== k.dueAt || (k.poll !== undefined && !sameSeen(k.poll, known.facts))) {
        schedule.restale(known, k, now);
        continue;
      }
      // The invocation before had it scheduled after our last poll (a handover from another container).
      const handed = record !== undefined && record.at > known.servedAt ? scheduledIn(record, key) : undefined;
      if (handed) schedule.adopt(known, handed, now);
      else schedule.servedElsewhere(known, storedLastPoll(record, key, 0), now);
    }
    // Gone from the due set: finished, cancelled or delivered by someone else.
    if (full) {
      for (const [key, e] of state.entries) {
        if (e.shard === shard && !seen.has(key) && !e.inFlight) schedule.remove(e);
      }
    }
  }
}
