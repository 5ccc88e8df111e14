/**
 * DynamoDB write units of one watch life by shape, on the wire (capacity
 * proxy in front of dynalite, DynamoDB's rules: `infra/dev/capacity-meter.ts`):
 * registration (with its first APIG query), `processing` -> `succeed` with
 * the shape's result, one webhook delivered. The real use cases over the
 * real repository; the APIG simulator answers.
 */
import { startCapacityProxy } from "../../infra/dev/capacity-proxy";
import { type WriteCharge, writeUnits } from "../../infra/dev/capacity-meter";
import { notificationView } from "../../lib/app/exports";
import { withImportLists } from "../../lib/app/import-lists";
import { applyObservation, deliverOwed, queryApig } from "../../lib/app/observe-and-deliver";
import { registerWatch } from "../../lib/app/register";
import { createLogger } from "../../lib/aws/log";
import { loadConfig } from "../../lib/platform/config";
import { buildDeps } from "../../lib/platform/runtime";
import { handlerEnv, startReceiver, startStack } from "./stack";
import { writeSpec } from "../../infra/dev/apig-simulator/spec";

export interface ShapeUnits {
  shape: string;
  resultBytes: number;
  writeUnits: number;
  /**
   * Of `writeUnits`: the watch's own writes (its item and index entries: the
   * bookkeeping of a life), and what is stored beside it once (an export's
   * document, an import's large lists: about one unit per KB of gzip).
   */
  watchUnits: number;
  besideUnits: number;
  readUnits: number;
  /** Each write as billed (sort key, bytes, table and index units). */
  writes: WriteCharge[];
  /** After the life, read back as `GET /tasks/{id}` and a notification show it: the import's listed APIs (null for an export). */
  answered: number | null;
  notified: number | null;
}

const api = (i: number) => ({ id: `a${i}`, method: "POST", path: `/v1/resources/${i}/items`, action: "create" });

/** The shapes: APIG's `task_result` strings. */
export const SHAPES: Array<{ shape: string; taskType: "import_api" | "export_api"; result: string }> = [
  { shape: "small import (1 API)", taskType: "import_api", result: JSON.stringify({ success: [api(0)], failure: [] }) },
  { shape: "100-API import", taskType: "import_api", result: JSON.stringify({ success: Array.from({ length: 100 }, (_, i) => api(i)), failure: [] }) },
  // The watch keeps 100 entries of each list (MAX_LISTED) and every count.
  { shape: "1,000-API import", taskType: "import_api", result: JSON.stringify({ success: Array.from({ length: 1_000 }, (_, i) => api(i)), failure: [] }) },
  {
    shape: "export (64 KiB document)",
    taskType: "export_api",
    result: JSON.stringify({ file_type: "json", content: JSON.stringify({ openapi: "3.0.3", paths: { "/x": { get: { description: "y".repeat(64 * 1024 - 80) } } } }) }),
  },
  {
    // What the simulator exports for a 1,000-operation group: about 132 KB, compressing about 20x.
    shape: "export (1,000 operations, 132 KB document)",
    taskType: "export_api",
    result: JSON.stringify({ FileName: "grp-RELEASE", FileType: ".json", Comment: writeSpec({ title: "big", version: "1", oasVersion: "2.0", yaml: false }, Array.from({ length: 1_000 }, (_, i) => ({ method: "GET", path: `/v1/resources/${i}/items` }))) }),
  },
];

export async function runUnitsByShape(): Promise<ShapeUnits[]> {
  const stack = await startStack({ latencyMs: 5 });
  const proxy = await startCapacityProxy(stack.dynamoEndpoint);
  const receiver = await startReceiver();
  const config = loadConfig(handlerEnv({ ...stack, dynamoEndpoint: proxy.url }, { APIG_TIMEOUT_MS: "10000" }));
  const deps = buildDeps(config, { log: createLogger({ serviceName: "bench", logLevel: "ERROR" }) });
  const out: ShapeUnits[] = [];
  let n = 0;
  for (const s of SHAPES) {
    const taskId = `shape-${n++}`;
    stack.sim.addTask({ projectId: "p", instanceId: "i", taskId, taskType: s.taskType, states: [{ status: "processing" }] });
    proxy.reset();
    const r = await registerWatch(deps, "acme", {
      project_id: "p",
      instance_id: "i",
      task_id: taskId,
      region: config.region,
      targets: [{ type: "webhook", url: `${receiver.url}/hook`, secret: `whsec_${Buffer.alloc(32, 9).toString("base64")}` }],
      labels: {},
      timeout_s: 86_400,
    });
    stack.sim.addTask({ projectId: "p", instanceId: "i", taskId, taskType: s.taskType, states: [{ status: "succeed", result: s.result }] });
    if (!r.ok) throw new Error(`registration refused: ${r.reason}`);
    const done = await applyObservation(deps, r.watch, await queryApig(deps, r.watch));
    if (done.watch) await deliverOwed(deps, done.watch, new Date());
    const charged = (w: WriteCharge) => w.table + Object.values(w.indexes).reduce((a, b) => a + b, 0);
    const own = proxy.totals.writes.filter((w) => w.sk.startsWith("W#")).reduce((n, w) => n + charged(w), 0);
    const total = writeUnits(proxy.totals);
    const units = { writeUnits: total, watchUnits: own, besideUnits: total - own, readUnits: proxy.totals.read, writes: proxy.totals.writes };
    const stored = await deps.store.get("acme", taskId);
    if (stored === null) throw new Error("the watch is gone");
    const listed = (r: { kind: string; success?: unknown[] } | null) => (r?.kind === "import" ? (r.success?.length ?? 0) : null);
    const answered = listed((await withImportLists(deps, stored)).result);
    const notified = listed((await notificationView(deps, stored)).result);
    out.push({ shape: s.shape, resultBytes: Buffer.byteLength(s.result), ...units, answered, notified });
  }
  await receiver.close();
  await proxy.close();
  await stack.close();
  return out;
}
