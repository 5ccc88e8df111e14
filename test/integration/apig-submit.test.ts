/** The APIG submitter against a scripted loopback server: what is retried, what is not. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { staticTokenAuth } from "../../lib/otc/apig-client";
import { ApigSubmitter } from "../../lib/otc/apig-submit";

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

/** A server answering `answers` in order (the last one repeats); `hang` never answers. */
async function scripted(answers: Array<{ status: number; body?: string } | "hang">) {
  const seen: Array<{ contentType: string; body: string }> = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c));
    req.on("end", () => {
      seen.push({ contentType: String(req.headers["content-type"]), body });
      const a = answers[Math.min(seen.length - 1, answers.length - 1)]!;
      if (a === "hang") return;
      res.writeHead(a.status, { "content-type": "application/json" });
      res.end(a.body ?? "");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const dispatcher = new Agent();
  open.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await dispatcher.destroy();
  });
  // The pauses between tries are recorded, not waited out.
  const waits: number[] = [];
  const submitter = new ApigSubmitter({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    auth: staticTokenAuth("t"),
    dispatcher,
    timeoutMs: 300,
    sleep: async (ms) => void waits.push(ms),
  });
  return { submitter, seen, waits };
}

const target = { region: "eu-de", projectId: "p", instanceId: "i" };
const THROTTLED = JSON.stringify({ error_code: "APIG.9008", error_msg: "Too many requests" });

describe("ApigSubmitter", () => {
  it("retries 5xx and 429 twice, then gives up as unavailable", async () => {
    const ok = await scripted([{ status: 500, body: THROTTLED }, { status: 429 }, { status: 202, body: '{"task_id":"abc123"}' }]);
    expect(await ok.submitter.submitExport({ ...target, body: { env_id: "e", group_id: "g" } })).toEqual({ ok: true, taskId: "abc123" });
    expect(ok.seen).toHaveLength(3);
    // The documented pauses before the 2nd and 3rd try.
    expect(ok.waits).toEqual([500, 1500]);
    const down = await scripted([{ status: 503 }]);
    expect(await down.submitter.submitExport({ ...target, body: {} })).toMatchObject({ ok: false, kind: "unavailable" });
    expect(down.seen).toHaveLength(3);
  });

  it("does not retry a 4xx (rejected, with APIG's code) nor a timeout (APIG may have started the task)", async () => {
    const refused = await scripted([{ status: 400, body: JSON.stringify({ error_code: "APIG.2001", error_msg: "group_id" }) }]);
    expect(await refused.submitter.submitImport({ ...target, fileName: "a.yaml", spec: "x: 1", fields: {} })).toEqual({
      ok: false,
      kind: "rejected",
      http_status: 400,
      error_code: "APIG.2001",
      error_msg: "group_id",
    });
    expect(refused.seen).toHaveLength(1);
    expect(refused.waits).toEqual([]);
    const slow = await scripted(["hang"]);
    expect(await slow.submitter.submitExport({ ...target, body: {} })).toMatchObject({ ok: false, kind: "unavailable", message: expect.stringContaining("did not answer") });
    expect(slow.seen).toHaveLength(1);
  });

  it("sends the document as the multipart file part file_name, fields as form fields", async () => {
    const s = await scripted([{ status: 202, body: '{"task_id":"t1"}' }]);
    const spec = 'swagger: "2.0"\ninfo: {title: "x --boundary"}\n';
    await s.submitter.submitImport({ ...target, fileName: "api.yaml", spec, fields: { is_create_group: "true" } });
    const form = await new Request("http://x/", { method: "POST", headers: { "content-type": s.seen[0]!.contentType }, body: s.seen[0]!.body }).formData();
    const file = form.get("file_name") as File;
    expect([file.name, await file.text(), form.get("is_create_group")]).toEqual(["api.yaml", spec, "true"]);
  });
});
