/**
 * The capacity meter on the wire (infra/dev/capacity-proxy.ts) in front of
 * dynalite charges writes by DynamoDB's rules: an index only when an item
 * enters it, leaves it, or changes its keys or projection; the table on the
 * larger of the old and new item. The benchmark's write units per life come
 * from it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { newWatch } from "../../lib/app/register";
import type { Watch } from "../../lib/domain/watch";
import { toItem } from "../../lib/store/item-codec";
import { startCapacityProxy } from "../../infra/dev/capacity-proxy";
import { type LocalDynamo, localDynamoClient, startDynalite } from "../../infra/dev/local/dynalite-server";
import { ensureTable } from "../../infra/table";

let dynamo: LocalDynamo;
let proxy: Awaited<ReturnType<typeof startCapacityProxy>>;
let db: DynamoDBDocumentClient;
const TABLE = "meter";
const opts = { dueShards: 4, retentionDays: 30 };

beforeAll(async () => {
  dynamo = await startDynalite();
  await ensureTable(localDynamoClient(dynamo.endpoint), TABLE);
  proxy = await startCapacityProxy(dynamo.endpoint);
  db = DynamoDBDocumentClient.from(localDynamoClient(proxy.url), { marshallOptions: { removeUndefinedValues: true } });
}, 30_000);
afterAll(async () => {
  await proxy.close();
  await dynamo.close();
});

const put = (w: Watch) => db.send(new PutCommand({ TableName: TABLE, Item: toItem(w, opts) }));
const charged = async (w: Watch) => {
  proxy.reset();
  await put(w);
  const t = proxy.totals;
  return { table: t.tableWrite, byCreated: t.indexWrite.by_created ?? 0, due: t.indexWrite.due ?? 0 };
};

const watch = (id: string) =>
  newWatch("acme", { project_id: "p", instance_id: "i", task_id: id, region: "eu-de", targets: [], labels: {}, timeout_s: 86_400 }, new Date("2026-12-01T10:00:00Z"));

// Each case writes its own watch: the suite runs in random order.
describe("capacity proxy", () => {
  it("a new watch enters both indexes", async () => {
    expect(await charged(watch("m-new"))).toEqual({ table: 1, byCreated: 1, due: 1 });
  });

  it("a transition rewrites the due entry (its status is projected there), never by_created (keys only)", async () => {
    const w0 = watch("m-same");
    await put(w0);
    const next: Watch = { ...w0, status: "processing", version: 1, history: [...w0.history, { status: "processing", at: "2026-12-01T10:00:05.000Z" }] };
    expect(await charged(next)).toEqual({ table: 1, byCreated: 0, due: 1 });
  });

  it("a write that changes neither an index's keys nor what it projects costs that index nothing", async () => {
    const w0 = watch("m-unprojected");
    await put(w0);
    // The history and the version are not in any index.
    const next: Watch = { ...w0, version: 1, history: [...w0.history, { status: "registered", at: "2026-12-01T10:00:05.000Z" }] };
    expect(await charged(next)).toEqual({ table: 1, byCreated: 0, due: 0 });
  });

  it("a waited mark moves the due key: two due-index writes (old entry out, new in), none on by_created", async () => {
    const w0 = watch("m-waited");
    await put(w0);
    const marked: Watch = { ...w0, status: "processing", version: 1, waited_until: Date.parse("2026-12-01T10:30:00Z") };
    expect(await charged(marked)).toEqual({ table: 1, byCreated: 0, due: 2 });
  });

  it("the end (nothing owed) leaves the due index: one write there; the table pays for the larger, old item", async () => {
    const w0 = watch("m-end");
    await put(w0);
    const big: Watch = { ...w0, status: "processing", version: 1, labels: Object.assign(Object.create(null), { note: "x".repeat(2500) }) };
    // Its status changed, which the due index projects: one write there.
    expect(await charged(big)).toEqual({ table: 3, byCreated: 0, due: 1 });
    const done: Watch = { ...w0, status: "succeed", version: 2, finished_at: "2026-12-01T10:40:00.000Z" };
    expect(await charged(done)).toEqual({ table: 3, byCreated: 0, due: 1 });
  });
});
