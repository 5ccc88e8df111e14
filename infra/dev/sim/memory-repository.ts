/**
 * An in-memory WatchRepository for the poll loop's simulations and unit
 * tests: the same versioned, conditional writes and the same due index (keys
 * and times from `store/item-codec.ts`) as DynamoDB, and counters for what
 * the loop asks of it.
 */
import type { Decision, DueKey, ListResult, PollRound, ShardedDueKey, SweepRecord, UpdateResult, WatchRepository } from "../../../lib/app/ports";
import { readDecideWrite } from "../../../lib/app/update-watch";
import type { Watch } from "../../../lib/domain/watch";
import { dueAt, MAX_DUE_SHARDS, pollFactsOf, shardOf } from "../../../lib/store/item-codec";

export class MemoryRepository implements WatchRepository {
  private readonly items = new Map<string, Watch>();
  /** The due index: per shard, each watch's due time (kept on every write, as DynamoDB keeps a GSI). */
  private readonly due = new Map<string, Map<string, number>>();
  /** What the loop asked for, by kind. */
  readonly counts = {
    gets: 0,
    /** Of `gets`, those asked with `consistent: false`. */
    eventualGets: 0,
    creates: 0,
    saves: 0,
    conflicts: 0,
    fullReads: 0,
    pickups: 0,
    straySweeps: 0,
    reshards: 0,
    /** BatchGetItem calls, and the items they returned (`gets` counts single reads). */
    batchGets: 0,
    batchItems: 0,
    sweepReads: 0,
    sweepWrites: 0,
    /** Poll-round reads and writes (`handover.ts`). */
    roundReads: 0,
    roundWrites: 0,
  };
  /** The stored poll round. */
  round: PollRound | null = null;
  /** Per watch key: the shard its due entry is in (one entry per item, as DynamoDB keeps it). */
  private readonly shardOfKey = new Map<string, string>();
  /** The stored sweep records, by shard. */
  readonly sweeps = new Map<string, SweepRecord>();
  /** Watches whose index entry was written before the projection (keys only). */
  private readonly legacy = new Set<string>();
  /** Every dueKeys call: shard, kind and the time range asked. */
  readonly reads: Array<{ shard: string; kind: "full" | "pickup"; after?: number; upTo: number }> = [];

  constructor(private shards = 1) {}

  /** Another `DUE_SHARDS` from now on, as a redeploy with a new setting: stored entries stay where they are. */
  setShardCount(n: number): void {
    this.shards = n;
  }

  private static key(tenant: string, taskId: string) {
    return `${tenant}/${taskId}`;
  }

  private put(w: Watch): void {
    const k = MemoryRepository.key(w.tenant, w.task_id);
    this.legacy.delete(k);
    this.items.set(k, structuredClone(w));
    const old = this.shardOfKey.get(k);
    if (old !== undefined) this.due.get(old)?.delete(k);
    this.shardOfKey.delete(k);
    const at = dueAt(w);
    if (at !== null) this.index(k, this.shardOf(w), at);
  }

  private index(k: string, shard: string, at: number): void {
    let ix = this.due.get(shard);
    if (!ix) this.due.set(shard, (ix = new Map()));
    ix.set(k, at);
    this.shardOfKey.set(k, shard);
  }

  /** Put a watch in as it is, bypassing the version check (test setup). */
  seed(w: Watch): void {
    this.put(w);
  }

  /** As {@link seed}, with a keys-only index entry, as items written before the projection have. */
  seedLegacy(w: Watch): void {
    this.put(w);
    this.legacy.add(MemoryRepository.key(w.tenant, w.task_id));
  }

  /** Items read in all, one by one or batched. */
  get itemReads(): number {
    return this.counts.gets + this.counts.batchItems;
  }

  /** The stored copy, for assertions. */
  peek(tenant: string, taskId: string): Watch | undefined {
    const w = this.items.get(MemoryRepository.key(tenant, taskId));
    return w && structuredClone(w);
  }

  async create(w: Watch) {
    this.counts.creates++;
    const k = MemoryRepository.key(w.tenant, w.task_id);
    const existing = this.items.get(k);
    if (existing) return { created: false as const, existing: structuredClone(existing) };
    this.put(w);
    return { created: true as const, watch: w };
  }

  async get(tenant: string, taskId: string, o: { consistent?: boolean } = {}) {
    this.counts.gets++;
    if (o.consistent === false) this.counts.eventualGets++;
    const w = this.items.get(MemoryRepository.key(tenant, taskId));
    return w ? structuredClone(w) : null;
  }

  async save(w: Watch, leaseUntil?: number) {
    const k = MemoryRepository.key(w.tenant, w.task_id);
    const stored = this.items.get(k);
    if (!stored || stored.version !== w.version) {
      this.counts.conflicts++;
      return "conflict" as const;
    }
    this.counts.saves++;
    const { lease_until: _old, ...rest } = w;
    const next: Watch = { ...rest, version: w.version + 1, ...(leaseUntil !== undefined ? { lease_until: leaseUntil } : {}) };
    this.put(next);
    return next;
  }

  update<A>(tenant: string, taskId: string, decide: (current: Watch) => Decision<A> | Promise<Decision<A>>, opts?: { current?: Watch; tries?: number }): Promise<UpdateResult<A>> {
    return readDecideWrite(this, tenant, taskId, decide, opts);
  }

  async list(tenant: string, q: { status?: string; limit: number }): Promise<ListResult> {
    const items = [...this.items.values()]
      .filter((w) => w.tenant === tenant && (!q.status || w.status === q.status))
      .sort((a, b) => b.created_at.localeCompare(a.created_at))
      .slice(0, q.limit);
    return { ok: true, page: { items: structuredClone(items), nextCursor: null } };
  }

  dueShards(): string[] {
    return Array.from({ length: this.shards }, (_, i) => `S#${i}`);
  }

  private shardOf(w: Pick<Watch, "tenant" | "task_id">): string {
    return shardOf(w, this.shards);
  }

  async dueKeys(shard: string, range: { after?: number; upTo: number }): Promise<DueKey[]> {
    const kind = range.after === undefined ? "full" : "pickup";
    this.counts[kind === "full" ? "fullReads" : "pickups"]++;
    this.reads.push({ shard, kind, ...(range.after !== undefined ? { after: range.after } : {}), upTo: range.upTo });
    const out: DueKey[] = [];
    for (const [k, at] of this.due.get(shard) ?? []) {
      if (at > range.upTo || (range.after !== undefined && at <= range.after)) continue;
      const slash = k.indexOf("/");
      const key: DueKey = { tenant: k.slice(0, slash), taskId: k.slice(slash + 1), dueAt: at };
      // What DynamoDB projects into the index (the same parser as the real adapter).
      const poll = this.legacy.has(k) ? null : pollFactsOf(this.items.get(k) as unknown as Record<string, unknown>);
      out.push(poll ? { ...key, poll } : key);
    }
    return out.sort((a, b) => a.dueAt - b.dueAt);
  }

  async strayDueKeys(): Promise<ShardedDueKey[]> {
    this.counts.straySweeps++;
    const out: ShardedDueKey[] = [];
    for (let i = this.shards; i < MAX_DUE_SHARDS; i++) {
      const shard = `S#${i}`;
      for (const [k, at] of this.due.get(shard) ?? []) {
        const slash = k.indexOf("/");
        out.push({ tenant: k.slice(0, slash), taskId: k.slice(slash + 1), dueAt: at, shard });
      }
    }
    return out;
  }

  async reshard(k: ShardedDueKey): Promise<boolean> {
    const key = MemoryRepository.key(k.tenant, k.taskId);
    const at = this.due.get(k.shard)?.get(key);
    if (at === undefined) return false;
    this.counts.reshards++;
    this.due.get(k.shard)!.delete(key);
    this.index(key, shardOf({ tenant: k.tenant, task_id: k.taskId }, this.shards), at);
    return true;
  }

  async getMany(keys: ReadonlyArray<{ tenant: string; taskId: string }>) {
    this.counts.batchGets++;
    const found: Watch[] = [];
    for (const k of keys) {
      const w = this.items.get(MemoryRepository.key(k.tenant, k.taskId));
      if (w) found.push(structuredClone(w));
    }
    this.counts.batchItems += found.length;
    return { found, malformed: [] };
  }

  async readSweeps(shards: readonly string[], _opts?: { consistent?: boolean }): Promise<SweepRecord[]> {
    this.counts.sweepReads++;
    return shards.flatMap((s) => {
      const r = this.sweeps.get(s);
      return r ? [structuredClone(r)] : [];
    });
  }

  async writeSweep(r: SweepRecord): Promise<void> {
    this.counts.sweepWrites++;
    this.sweeps.set(r.shard, structuredClone(r));
  }

  async readRound(): Promise<PollRound | null> {
    this.counts.roundReads++;
    return this.round && { ...this.round };
  }

  async startRound(r: PollRound): Promise<void> {
    this.counts.roundWrites++;
    this.round = { ...r };
  }

  async endRound(r: PollRound): Promise<boolean> {
    if (this.round?.round !== r.round) return false;
    this.counts.roundWrites++;
    this.round = { ...r, ended: true };
    return true;
  }
}
