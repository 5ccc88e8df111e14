/**
 * Exports of any size, end to end on loopback: the poller stores a finished
 * export's document beside its watch (dynalite), `GET /tasks/{id}/export`
 * serves it whole over real HTTP (gzip, checked against its SHA-256, scoped
 * by tenant), `taskwatch export --out` writes a document over 1 MB, and the
 * webhook and Slack receivers get the link, size and SHA-256 above 20 KB and
 * the document below.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetCommand, PutCommand, DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli-run";
import { type Harness, KEYS, registration, startHarness } from "../support/harness";
import { useReceiver } from "../support/receiver";

const PUBLIC_URL = "https://taskwatch.example.test";
const SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

/** An OpenAPI document of `n` operations, about 150 bytes each. */
function document(n: number): string {
  const paths: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) paths[`/v1/resources/${i}/items`] = { get: { operationId: `op${i}`, responses: { default: { description: "default response" } } } };
  return JSON.stringify({ swagger: "2.0", info: { title: "big", version: "1" }, paths }, null, "\t");
}
const exportResult = (doc: string) => JSON.stringify({ FileName: "grp-RELEASE-spec-1", FileType: ".json", Comment: doc });

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { PUBLIC_URL } });
});
afterAll(async () => h?.close());

/** An item of tenant acme's partition as stored (`W#<task>` a watch, `E#<task>#0000` a chunk). */
async function stored(sk: string) {
  return (await h.db.send(new GetCommand({ TableName: h.tableName, Key: { pk: "T#acme", sk } }))).Item!;
}

/** APIG will answer `taskId` as a finished export of `doc`. */
const finishedExport = (taskId: string, doc: string) => h.task(taskId, [{ status: "succeed", result: exportResult(doc) }], "export_api");

/** GET the export with the raw body (no decompression) and its headers. */
async function getExport(taskId: string, key = KEYS.acme) {
  const res = await request(`${h.apiUrl}/tasks/${taskId}/export`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

describe("a large export (1,000 operations and more)", () => {
  const doc = document(8_000);

  it("is stored beside the watch, served whole, and notified by link, size and SHA-256", async () => {
    expect(Buffer.byteLength(doc)).toBeGreaterThan(1024 * 1024);
    const hook = await useReceiver();
    const slack = await useReceiver();
    finishedExport("exp-big", doc);
    const notify = [
      { type: "webhook", url: `${hook.url}/hook`, secret: SECRET },
      { type: "slack", webhook_url: `${slack.url}/slack` },
    ];
    expect((await h.call("POST", "/tasks", { body: registration("exp-big", notify) })).status).toBe(201);
    await h.tick();

    // The watch keeps facts and a preview; the chunks carry the watch's expiry and no index keys.
    const watch = await stored("W#exp-big");
    expect(watch.result).toMatchObject({ kind: "export", size_bytes: Buffer.byteLength(doc), sha256: sha(doc), chunks: 1, truncated: true });
    expect(JSON.stringify(watch).length).toBeLessThan(4096);
    const chunk = await stored("E#exp-big#0000");
    expect(chunk.expires_at).toBe(watch.expires_at);
    expect(chunk.due_shard).toBeUndefined();
    expect(chunk.created_key).toBeUndefined();

    const got = await getExport("exp-big");
    expect(got.status).toBe(200);
    expect(got.headers).toMatchObject({ "content-encoding": "gzip", "content-type": "application/json", "x-content-sha256": sha(doc), etag: `"${sha(doc)}"` });
    expect(gunzipSync(got.body).toString("utf8")).toBe(doc);

    const [webhook] = await hook.waitFor(1);
    const body = JSON.parse(webhook!.body);
    expect(body.data.result).toMatchObject({ download_url: `${PUBLIC_URL}/tasks/exp-big/export`, size_bytes: Buffer.byteLength(doc), sha256: sha(doc) });
    expect(webhook!.body.length).toBeLessThan(20_000);
    const [message] = await slack.waitFor(1);
    expect(message!.body).toContain(`<${PUBLIC_URL}/tasks/exp-big/export|Download the export>`);
    expect(message!.body).toContain(sha(doc));
    expect(message!.body).not.toContain("/v1/resources/999/items");
  });

  it("is scoped like GET /tasks/{task_id}: another tenant's key finds no such watch", async () => {
    finishedExport("exp-scope", doc);
    await h.call("POST", "/tasks", { body: registration("exp-scope") });
    expect((await getExport("exp-scope")).status).toBe(200);
    const other = await getExport("exp-scope", KEYS.other);
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body.toString()).error.code).toBe("not_found");
    expect((await getExport("exp-none")).status).toBe(404);
  });

  it("a damaged or missing chunk is a 500 export_unreadable, never a wrong document", async () => {
    finishedExport("exp-bad", doc);
    await h.call("POST", "/tasks", { body: registration("exp-bad") });
    const key = { pk: "T#acme", sk: "E#exp-bad#0000" };
    const chunk = await stored(key.sk);
    const damaged = Buffer.from(chunk.data as Uint8Array);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 20) ^ 0xff, damaged.length - 20);
    await h.db.send(new PutCommand({ TableName: h.tableName, Item: { ...chunk, data: damaged } }));
    const bad = await getExport("exp-bad");
    expect(bad.status).toBe(500);
    expect(JSON.parse(bad.body.toString()).error.code).toBe("export_unreadable");
    await h.db.send(new DeleteCommand({ TableName: h.tableName, Key: key }));
    expect((await getExport("exp-bad")).status).toBe(500);
  });

  it("chunks gone past the retention (TTL removes them and the watch in no set order) are a 410 export_expired, not a 500", async () => {
    finishedExport("exp-old", doc);
    await h.call("POST", "/tasks", { body: registration("exp-old") });
    const watch = await stored("W#exp-old");
    // Finished 31 days ago (RETENTION_DAYS 30), its chunk already removed, the watch not yet.
    const finished = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await h.db.send(new PutCommand({ TableName: h.tableName, Item: { ...watch, finished_at: finished, updated_at: finished } }));
    await h.db.send(new DeleteCommand({ TableName: h.tableName, Key: { pk: "T#acme", sk: "E#exp-old#0000" } }));
    const gone = await getExport("exp-old");
    expect(gone.status).toBe(410);
    expect(JSON.parse(gone.body.toString()).error).toMatchObject({ code: "export_expired", message: expect.stringContaining(new Date(Date.parse(finished) + 30 * 86_400_000).toISOString().slice(0, 10)) });
  });

  it("taskwatch export --out writes the whole document (over 1 MB), checked against its SHA-256", async () => {
    // The simulator exports the operations imported into the group.
    const ops = 8_000;
    const spec = document(ops);
    expect((await h.call("POST", "/imports", { body: { project_id: "proj1", instance_id: "inst1", spec, file_name: "big.json", group_id: "grp-big", is_create_group: false } })).status).toBe(201);
    const out = join(mkdtempSync(join(tmpdir(), "cli-export-")), "exported.json");
    const r = await h.whileTicking(() =>
      runCli(["export", "--project", "proj1", "--instance", "inst1", "--group", "grp-big", "--env", "RELEASE", "--out", out], { TASKWATCH_URL: h.apiUrl, TASKWATCH_API_KEY: KEYS.acme }),
    );
    expect(r.code, r.stderr).toBe(0);
    const written = readFileSync(out);
    expect(written.length).toBeGreaterThan(1024 * 1024);
    expect(Object.keys(JSON.parse(written.toString("utf8")).paths)).toHaveLength(ops);
    expect(r.stderr).toContain(`wrote ${out}`);
    expect(r.stderr).toContain(`SHA-256 ${sha(written)}`);
  }, 90_000);
});

describe("a small export (under 20 KB)", () => {
  it("notifies the whole document, as before, and is served too", async () => {
    const doc = document(20);
    const hook = await useReceiver();
    finishedExport("exp-small", doc);
    await h.call("POST", "/tasks", { body: registration("exp-small", [{ type: "webhook", url: `${hook.url}/hook`, secret: SECRET }]) });
    await h.tick();
    const [webhook] = await hook.waitFor(1);
    const result = JSON.parse(webhook!.body).data.result;
    expect(result).toMatchObject({ content: doc, truncated: false, sha256: sha(doc) });
    expect(result.download_url).toBeUndefined();
    expect(gunzipSync((await getExport("exp-small")).body).toString("utf8")).toBe(doc);
  });

  it("an import has no export: 404 no_export", async () => {
    h.task("imp-1", [{ status: "succeed", result: JSON.stringify({ success: [], failure: [] }) }]);
    await h.call("POST", "/tasks", { body: registration("imp-1") });
    const r = await getExport("imp-1");
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body.toString()).error.code).toBe("no_export");
  });
});
