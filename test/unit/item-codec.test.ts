import { describe, expect, it } from "vitest";
import { Watch } from "../../lib/domain/watch";
import table from "../../infra/table.json";
import { DUE_PROJECTION, dueKeyOf, fromItem, MalformedItemError, toItem } from "../../lib/store/item-codec";

const opts = { dueShards: 4, retentionDays: 30 };

/** A watch with every field set, as far as the schema allows. */
const full: Watch = {
  tenant: "acme",
  task_id: "t1",
  project_id: "p1",
  instance_id: "i1",
  region: "eu-nl",
  credential_set: "team-b",
  status: "succeed",
  task_type: "import_api",
  created_at: "2026-11-28T10:00:00.000Z",
  updated_at: "2026-11-28T10:05:00.000Z",
  finished_at: "2026-11-28T10:05:00.000Z",
  deadline_at: "2026-11-29T10:00:00.000Z",
  history: [
    { status: "registered", at: "2026-11-28T10:00:00.000Z" },
    { status: "succeed", at: "2026-11-28T10:05:00.000Z" },
  ],
  result: {
    kind: "import",
    group_id: "g1",
    swagger: { id: "sw", result: "Success" },
    success_count: 1,
    failure_count: 1,
    ignore_count: 1,
    success: [{ id: "a1", method: "GET", path: "/a", action: "create" }],
    failure: [{ method: "POST", path: "/b", error_code: "APIG.3301", error_msg: "dup" }],
    ignore: [{ method: "PUT", path: "/c" }],
    truncated: false,
  },
  last_error: { code: "APIG.9008", message: "throttled", http_status: 500, at: "2026-11-28T10:01:00.000Z", since: "2026-11-28T10:00:30.000Z" },
  not_found_since: "2026-11-28T10:02:00.000Z",
  labels: { pipeline: "deploy-42" },
  targets: [
    {
      id: "t0",
      type: "webhook",
      url: "https://ci.example.com/h",
      secret: "whsec_x",
      state: "pending",
      attempts: 2,
      last_error: "HTTP 500",
      next_attempt_at: 1_764_324_400_000,
      delivered_at: null,
      attempts_log: [{ at: "2026-11-28T10:05:01.000Z", http_status: 500, duration_ms: 12, error: "HTTP 500" }],
    },
  ],
  event_id: "msg_abc",
  import_check: {
    version: "3.0.3",
    converted_from: "3.1.0",
    apis: 3,
    warning_count: 1,
    warnings: [{ severity: "warning", rule: "missing-operation-id", pointer: "/paths/~1a/get", line: 7, column: 5, message: "no operationId" }],
  },
  version: 7,
  waited_until: 1_795_861_800_000,
  lease_until: 1_764_324_300_000,
};

describe("item codec: the stored item derives from the watch schema", () => {
  it("every field of the schema survives a write and a read", () => {
    // Each key the schema knows is set above, so a field added to the schema
    // but dropped by the codec (or the other way round) fails here.
    // (`lists_beside` has its own case below: the item keeps those lists out.)
    expect([...Object.keys(full), "lists_beside"].sort()).toEqual(Object.keys(Watch.shape).sort());
    expect(fromItem(toItem(full, opts, full.lease_until))).toEqual(full);
  });

  it("leaves out what it can take back: tenant and task id (the keys say them) and null errors; items written with them still read", () => {
    const open = { ...full, last_error: null, not_found_since: null };
    const item = toItem(open, opts, full.lease_until);
    for (const k of ["tenant", "task_id", "last_error", "not_found_since"]) expect(item).not.toHaveProperty(k);
    expect(fromItem(item)).toEqual(open);
    // An item as stored before: every attribute present, nulls as NULL.
    expect(fromItem({ ...item, tenant: "acme", task_id: "t1", last_error: null, not_found_since: null })).toEqual(open);
  });

  it("an import's lists kept beside the watch are never written into its item, whatever copy is saved", () => {
    const beside = { ...full, lists_beside: { chunks: 1, sha256: "0123456789abcdef", size_bytes: 300 } };
    const item = toItem(beside, opts);
    expect(item.result).toMatchObject({ kind: "import", success_count: 1, failure_count: 1, ignore_count: 1, success: [], failure: [], ignore: [] });
    const back = fromItem(item);
    expect(back.lists_beside).toEqual(beside.lists_beside);
    expect(back.result).toEqual({ ...full.result, success: [], failure: [], ignore: [] });
  });

  it("keys, due index and TTL follow the watch", () => {
    const item = toItem(full, opts);
    expect(item).toMatchObject({ pk: "T#acme", sk: "W#t1", created_key: "2026-11-28T10:00:00.000Z#t1" });
    // Terminal with a delivery owed: in the due index at that delivery's time, and expiring after the retention.
    expect(item.due_at).toBe(1_764_324_400_000);
    expect(item.due_shard).toMatch(/^S#[0-3]$/);
    expect(item.expires_at).toBe(Date.parse(full.finished_at!) / 1000 + 30 * 86400);
    // A lease is only written when given.
    expect(item).not.toHaveProperty("lease_until");
    const delivered = toItem({ ...full, targets: [{ ...full.targets[0]!, state: "delivered", next_attempt_at: null }] }, opts);
    expect(delivered).not.toHaveProperty("due_at");
    // A first delivery keeps the registration time (the writer delivers at once);
    // a redelivery moves the key to its time, where the running poller's pickup finds it.
    const first = toItem({ ...full, targets: [{ ...full.targets[0]!, attempts: 0, attempts_log: [], next_attempt_at: 1_764_324_500_000 }] }, opts);
    expect(first.due_at).toBe(Date.parse(full.created_at));
    const again = toItem(
      { ...full, targets: [{ ...full.targets[0]!, attempts: 0, next_attempt_at: 1_764_324_500_000, attempts_log: [{ at: full.finished_at!, http_status: 410, duration_ms: 5, error: "HTTP 410" }] }] },
      opts,
    );
    expect(again.due_at).toBe(1_764_324_500_000);
    // Running: at registration, or at the last waited mark (five minutes before
    // its waited_until), so the running poller's pickup sees a waiting client.
    const running = { ...full, status: "processing" as const, finished_at: null };
    const { waited_until: _w, ...unwaited } = running;
    expect(toItem(unwaited, opts).due_at).toBe(Date.parse(full.created_at));
    expect(toItem(running, opts).due_at).toBe(full.waited_until! - 300_000);
  });

  it("refuses an item that is not a watch, naming it", () => {
    expect(() => fromItem({ pk: "T#acme", sk: "W#bad", status: "weird" })).toThrow(MalformedItemError);
    expect(() => fromItem({ pk: "T#acme", sk: "W#bad", status: "weird" })).toThrow(/W#bad/);
  });
});

describe("the due index carries what a poll needs", () => {
  it("table.json projects exactly the attributes the codec reads back from an index entry", () => {
    const due = table.GlobalSecondaryIndexes.find((i) => i.IndexName === "due")!;
    expect(due.Projection.ProjectionType).toBe("INCLUDE");
    expect([...(due.Projection.NonKeyAttributes ?? [])].sort()).toEqual([...DUE_PROJECTION].sort());
  });

  it("an index entry with the projection gives the poll's facts; a keys-only one (written before) gives none", () => {
    const item = toItem({ ...full, status: "processing", finished_at: null }, opts);
    const entry = Object.fromEntries(["pk", "sk", "due_shard", "due_at", ...DUE_PROJECTION].map((k) => [k, item[k]]));
    expect(dueKeyOf(entry)).toMatchObject({
      tenant: "acme",
      taskId: "t1",
      poll: { projectId: "p1", instanceId: "i1", region: full.region, createdAt: Date.parse(full.created_at), seen: { status: "processing" } },
    });
    const keysOnly = { pk: item.pk, sk: item.sk, due_shard: item.due_shard, due_at: item.due_at };
    expect(dueKeyOf(keysOnly)).toEqual({ tenant: "acme", taskId: "t1", dueAt: item.due_at });
  });
});
