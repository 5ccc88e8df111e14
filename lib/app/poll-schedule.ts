/**
 * When each followed watch is handled next, and in what order: the watches a
 * container follows (`PollerState`, kept while it is warm), a heap of those
 * waiting for their time and a heap of those whose time has come, served
 * earliest hard deadline first. A watch seen for the first time gets its
 * place from what is stored (the sweep record's last poll, else its
 * registration), so fresh containers serve the most overdue first instead of
 * all starting at the same end of a shard; a young one is polled at once.
 */
import { cadenceDelayMs, type CadenceRules, nextPollAt, YOUNG_FOR_MS } from "../domain/cadence";
import { nextDeliveryAt } from "../domain/delivery";
import { isTerminal, type Watch } from "../domain/watch";
import { type Scheduled, scheduledIn } from "./handover";
import { MinHeap } from "./min-heap";
import type { DueKey, PollFacts, SweepRecord } from "./ports";
import type { AimdThrottle } from "./region-throttle";
import { bucketOf, storedLastPoll } from "./sweep";

/** One watch the loop follows. */
export interface Entry {
  key: string;
  tenant: string;
  taskId: string;
  shard: string;
  /** Its sweep bucket: breaks ties in the order, so a crowd of equal deadlines is served bucket by bucket. */
  bucket: number;
  /** Registration time. */
  createdAt: number;
  /** The `due_at` the index last showed for it: when it changes, someone else rescheduled it. */
  indexDueAt: number;
  /** What the index carries for a poll, or null (an entry from before the projection: read the item). */
  facts: PollFacts | null;
  /** The stored watch as last read or written; null while the loop polls from `facts` alone. */
  watch: Watch | null;
  /** When this container last sent it a query; null before. */
  lastPollAt: number | null;
  /** When it was last polled as far as anyone knows (this container, or the stored sweep record). */
  servedAt: number;
  /** Consecutive transient APIG faults. */
  faults: number;
  /** When it is to be handled next (epoch ms). */
  nextAt: number;
  /** When it must be handled at the latest; orders the watches whose time has come. */
  dueBy: number;
  /** When it became due (for the backlog): its cadence's time, or the stored last poll's deadline. */
  dueSince: number;
  inFlight: boolean;
  /** Bumped on every (re)queue, so older heap nodes of this entry are ignored. */
  seq: number;
}

/** What one container keeps between invocations. */
export interface PollerState {
  entries: Map<string, Entry>;
  /** Per shard: when its due set was last read in full. */
  fullReadAt: Map<string, number>;
  /** Per shard: the upper bound of its last read. */
  readUpTo: Map<string, number>;
  /** Per `region|maxRps`: the APIG rate limiters, which remember a throttled region across invocations. */
  throttles: Map<string, AimdThrottle>;
  /** Set by `stopPollLoop`: the running loop starts nothing more. */
  stopping: boolean;
  /** Wakes the running loop from its wait (set while one runs). */
  wake?: () => void;
}

export function createPollerState(): PollerState {
  return { entries: new Map(), fullReadAt: new Map(), readUpTo: new Map(), throttles: new Map(), stopping: false };
}

export const keyOf = (tenant: string, taskId: string) => `${tenant}/${taskId}`;

/** What the due index carries for a watch (as `store/item-codec.ts` projects it). */
export function factsOf(w: Watch): PollFacts {
  return {
    projectId: w.project_id,
    instanceId: w.instance_id,
    region: w.region,
    createdAt: Date.parse(w.created_at),
    deadlineAt: Date.parse(w.deadline_at),
    seen: { status: w.status, task_type: w.task_type, last_error: w.last_error, not_found_since: w.not_found_since },
    waitedUntil: w.waited_until ?? null,
    credentialSet: w.credential_set ?? null,
  };
}

/**
 * The watch as far as the index tells it: enough to send the query and to
 * tell whether an answer changes anything (`transition` reads no other
 * field for that), not to write it.
 */
export function pollView(tenant: string, taskId: string, f: PollFacts): Watch {
  const created = new Date(f.createdAt).toISOString();
  return {
    tenant,
    task_id: taskId,
    project_id: f.projectId,
    instance_id: f.instanceId,
    region: f.region,
    ...(f.credentialSet !== null ? { credential_set: f.credentialSet } : {}),
    ...f.seen,
    created_at: created,
    updated_at: created,
    finished_at: null,
    deadline_at: new Date(f.deadlineAt).toISOString(),
    history: [],
    result: null,
    labels: Object.create(null) as Watch["labels"],
    targets: [],
    event_id: null,
    version: -1,
  };
}

interface Node {
  e: Entry;
  seq: number;
}

/** One invocation's two heaps over the state's entries. */
export class PollSchedule {
  private readonly waiting = new MinHeap<Node>();
  private readonly ready = new MinHeap<Node>();

  constructor(
    private readonly state: PollerState,
    private readonly cadence: CadenceRules,
    private readonly random: () => number,
  ) {}

  get readyCount(): number {
    return this.ready.size;
  }

  /** Put a watch in line for its `nextAt`. */
  queue(e: Entry): void {
    this.waiting.push(e.nextAt, { e, seq: ++e.seq });
  }

  /** Stop following a watch (done, gone, or another invocation's now). */
  remove(e: Entry): void {
    if (this.state.entries.get(e.key) === e) this.state.entries.delete(e.key);
  }

  private live(n: Node): boolean {
    return n.seq === n.e.seq && !n.e.inFlight && this.state.entries.get(n.e.key) === n.e;
  }

  /** Move every watch whose time has come to the ready line. */
  promote(now: number): void {
    for (let top = this.waiting.peekKey(); top !== undefined && top <= now; top = this.waiting.peekKey()) {
      const n = this.waiting.pop()!.item;
      // The bucket breaks ties (1/1000 ms apart, well above a double's resolution at epoch ms).
      if (this.live(n)) this.ready.push(n.e.dueBy + n.e.bucket / 1000, n);
    }
  }

  /** The ready watch with the earliest deadline that `accept` takes, if any. */
  take(accept: (e: Entry) => boolean = () => true): Entry | undefined {
    while (this.ready.size > 0) {
      const n = this.ready.pop()!.item;
      if (this.live(n) && accept(n.e)) return n.e;
    }
    return undefined;
  }

  /** When the next watch is to be handled: now if one is ready, else the earliest waiting one (Infinity: none). */
  nextAt(now: number): number {
    return this.ready.size > 0 ? now : (this.waiting.peekKey() ?? Number.POSITIVE_INFINITY);
  }

  /** After a poll (or a failure to handle it): when the watch is polled next, and by when at the latest. */
  schedulePoll(e: Entry, now: number): void {
    const last = e.lastPollAt ?? now;
    // A client waiting on it (`waited_until`, from the item or the due index) asks for the young cadence.
    const waitedUntil = e.watch?.waited_until ?? e.facts?.waitedUntil ?? null;
    e.nextAt = nextPollAt({ createdAt: e.createdAt, waitedUntil, lastPollAt: last, faults: e.faults }, this.cadence, this.random);
    e.dueBy = Math.max(e.nextAt, last + (e.faults > 0 ? this.cadence.backoffCapMs : this.cadence.maxMs));
    e.dueSince = e.nextAt;
  }

  /** Keep following a watch as it now is (queued for its next poll or delivery), or let it go when nothing is left to do. */
  settle(e: Entry, w: Watch | null, now: number): void {
    e.watch = w;
    if (w === null) return this.remove(e);
    e.createdAt = Date.parse(w.created_at);
    // What the index now shows for it, so the next full read does not take our own write for another's.
    e.facts = factsOf(w);
    if (isTerminal(w.status)) {
      const due = nextDeliveryAt(w);
      if (due === null) return this.remove(e);
      e.nextAt = Math.max(due, w.lease_until ?? 0);
      e.dueBy = e.nextAt;
      e.dueSince = e.nextAt;
    } else this.schedulePoll(e, now);
    this.queue(e);
  }

  /**
   * A watch seen in the due index for the first time. Its last poll is what
   * the shard's stored record says (else its registration, which queried
   * APIG once), so the most overdue goes first whichever container reads it.
   * A young watch is polled at once (its cadence is seconds); an old one when
   * its minute since the stored last poll is up, or at once with `atOnce` (a
   * one-round tick). Among old ones the more overdue has the earlier
   * deadline, but every one of them falls after `now + maxMs`: a watch this
   * container saw failing keeps its `backoffCapMs` promise.
   */
  admit(k: DueKey, shard: string, now: number, record: SweepRecord | undefined, atOnce: boolean): Entry {
    const key = keyOf(k.tenant, k.taskId);
    const createdAt = k.poll?.createdAt ?? k.dueAt;
    const servedAt = Math.min(now, storedLastPoll(record, key, createdAt));
    const delay = cadenceDelayMs(servedAt - createdAt, this.cadence);
    const young = now - createdAt < YOUNG_FOR_MS;
    const terminal = k.poll !== undefined && isTerminal(k.poll.seen.status);
    const dueSince = servedAt + delay;
    const max = this.cadence.maxMs;
    const overdue = now - dueSince;
    const oldDueBy = overdue >= 0 ? now + max + (max * max) / (overdue + max) : dueSince + 2 * max;
    const e: Entry = {
      key,
      tenant: k.tenant,
      taskId: k.taskId,
      shard,
      bucket: bucketOf(key),
      createdAt,
      indexDueAt: k.dueAt,
      facts: k.poll ?? null,
      watch: null,
      lastPollAt: null,
      servedAt,
      faults: 0,
      nextAt: young || atOnce || terminal ? now : Math.max(now, servedAt + delay),
      dueBy: young || terminal ? Math.min(now, dueSince) : oldDueBy,
      dueSince: terminal ? now : dueSince,
      inFlight: false,
      seq: 0,
    };
    this.state.entries.set(key, e);
    // The invocation before had it scheduled (it handed over): go on from there.
    const handed = terminal || atOnce ? undefined : scheduledIn(record, key);
    if (handed) this.adopt(e, handed, now);
    else this.queue(e);
    return e;
  }

  /**
   * Follow the schedule the invocation before had for a watch (`handover.ts`):
   * its next poll, not sooner, and its backoff.
   */
  adopt(e: Entry, s: Scheduled, now: number): void {
    if (e.inFlight) return;
    e.faults = s.faults;
    // The poll before it, as far as the cadence tells: for the sweep record and the deadline.
    const last = Math.min(now, s.nextAt - cadenceDelayMs(s.nextAt - e.createdAt, this.cadence));
    e.servedAt = Math.max(e.servedAt, last);
    e.nextAt = Math.max(now, s.nextAt);
    e.dueBy = Math.max(s.nextAt, last + (e.faults > 0 ? this.cadence.backoffCapMs : this.cadence.maxMs));
    e.dueSince = s.nextAt;
    this.queue(e);
  }

  /**
   * The table says a known watch changed (another writer moved its index
   * entry, or recorded a new state): drop our copy and handle it now.
   */
  restale(e: Entry, k: DueKey, now: number): void {
    e.indexDueAt = k.dueAt;
    e.facts = k.poll ?? null;
    e.watch = null;
    e.nextAt = now;
    e.dueBy = now;
    e.dueSince = now;
    this.queue(e);
  }

  /** Another container polled a known watch after we last did (the stored record says so): follow its schedule. */
  servedElsewhere(e: Entry, at: number, now: number): void {
    if (at <= e.servedAt || e.faults > 0 || e.inFlight) return;
    e.servedAt = at;
    e.lastPollAt = at;
    if (e.watch !== null && isTerminal(e.watch.status)) return;
    this.schedulePoll(e, now);
    this.queue(e);
  }
}
