/**
 * Poll first, read later, on dynalite: the due index carries the poll's
 * facts, so a tick that finds nothing new reads no item (no GetItem, no
 * BatchGetItem); a tick whose answer changes the watch reads it in a batch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, registration, startHarness } from "../support/harness";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("the due index on DynamoDB carries what a poll needs", () => {
  it("a registered watch's index entry has its task address and state; polls read no item until the answer changes", async () => {
    h.task("proj-1", ["processing", "processing", "processing", { status: "succeed", result: "{}" }]);
    await h.call("POST", "/tasks", { body: registration("proj-1") });
    const keys = (await Promise.all(h.deps.store.dueShards().map((s) => h.deps.store.dueKeys(s, { upTo: Date.now() })))).flat();
    expect(keys.find((k) => k.taskId === "proj-1")).toMatchObject({ poll: { projectId: "proj1", instanceId: "inst1", seen: { status: "processing" } } });

    // BatchGetItem also reads the shards' sweep records: one call a tick.
    const gets = () => h.commands.GetItemCommand ?? 0;
    const batches = () => h.commands.BatchGetItemCommand ?? 0;
    const [g0, b0] = [gets(), batches()];
    const s1 = await h.tick();
    const s2 = await h.tick();
    expect(s1.polls + s2.polls).toBe(2);
    expect(s1.itemReads + s2.itemReads).toBe(0);
    expect(gets()).toBe(g0);
    expect(batches() - b0).toBe(2);
    // The answer changes: the item is read once (batched) and the end recorded.
    const s3 = await h.tick();
    expect(s3).toMatchObject({ transitions: 1, itemReads: 1 });
    // One GetItem: the tenant's subscriptions, read once as the watch turns terminal.
    expect(gets()).toBe(g0 + 1);
    expect(batches() - b0).toBe(2 + 2);
    expect((await h.call("GET", "/tasks/proj-1")).json.status).toBe("succeed");
  });
});
