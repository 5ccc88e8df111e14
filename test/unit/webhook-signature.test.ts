import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { outcomeOf, type WatchStatus } from "../../lib/domain/watch";
import type { WatchView } from "../../lib/domain/watch-view";
import { parseWebhookSecret } from "../../lib/domain/target";
import { buildWebhookBody, signWebhook, webhookHeaders } from "../../lib/notify/webhook-signature";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;

function view(status: WatchStatus): WatchView {
  return {
    task_id: "d9ce8c9eede54b3f841ec324fe0bfdc2",
    project_id: "p1",
    instance_id: "i1",
    region: "eu-de",
    status,
    outcome: outcomeOf({ status, result: null }),
    task_type: "import_api",
    created_at: "2026-11-28T10:00:00.000Z",
    updated_at: "2026-11-28T10:03:12.000Z",
    finished_at: "2026-11-28T10:03:12.000Z",
    deadline_at: "2026-11-29T10:00:00.000Z",
    history: [],
    result: null,
    last_error: null,
    labels: { team: "payments", note: "ünïcode 😀" },
    notify: [],
  };
}

function signed(body: string) {
  // The reference verifier refuses timestamps more than 5 minutes from its own clock.
  return webhookHeaders({ id: "msg_abc", timestampS: Math.floor(Date.now() / 1000), body, secret: SECRET });
}

describe("webhook signature", () => {
  it("is accepted by the reference Standard Webhooks verifier", () => {
    const body = buildWebhookBody(view("succeed"), new Date());
    const headers = signed(body);
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["webhook-id"]).toBe("msg_abc");
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const payload = new Webhook(SECRET).verify(body, headers) as { type: string; data: WatchView };
    expect(payload.type).toBe("task.succeeded");
    expect(payload.data.labels.note).toBe("ünïcode 😀");
  });

  it("is refused by the verifier when the body was tampered with", () => {
    const body = buildWebhookBody(view("failed"), new Date());
    const headers = signed(body);
    const tampered = body.replace('"task.failed"', '"task.succeeded"');
    expect(tampered).not.toBe(body);
    expect(() => new Webhook(SECRET).verify(tampered, headers)).toThrow();
  });

  it("is refused by the verifier under another secret", () => {
    const body = buildWebhookBody(view("succeed"), new Date());
    const other = `whsec_${randomBytes(32).toString("base64")}`;
    expect(() => new Webhook(other).verify(body, signed(body))).toThrow();
  });

  it("matches the signature the reference library computes", () => {
    const ts = 1_764_324_192;
    const body = '{"a":1}';
    expect(signWebhook({ id: "msg_1", timestampS: ts, body, secret: SECRET })).toBe(
      new Webhook(SECRET).sign("msg_1", new Date(ts * 1000), body),
    );
  });
});

describe("parseWebhookSecret", () => {
  it("accepts whsec_ with 24 to 64 bytes of base64", () => {
    for (const n of [24, 32, 64]) {
      const r = parseWebhookSecret(`whsec_${randomBytes(n).toString("base64")}`);
      expect(r.ok && r.key.length).toBe(n);
    }
  });

  it.each([
    ["no prefix", randomBytes(32).toString("base64")],
    ["not base64", "whsec_this is not base64!!!!!!!!!!!!!!!!"],
    ["10 bytes", `whsec_${randomBytes(10).toString("base64")}`],
    ["100 bytes", `whsec_${randomBytes(100).toString("base64")}`],
    ["empty", "whsec_"],
  ])("refuses a secret with %s", (_name, secret) => {
    const r = parseWebhookSecret(secret);
    expect(r.ok).toBe(false);
    // The message is shown to API callers: it must not echo the secret.
    const sample = secret.slice(6, 20);
    if (!r.ok && sample.length > 0) expect(r.message).not.toContain(sample);
  });

  it("makes signing with a refused secret throw rather than send an unverifiable event", () => {
    expect(() => signWebhook({ id: "m", timestampS: 1, body: "{}", secret: "nope" })).toThrow(/whsec_/);
  });
});

describe("buildWebhookBody", () => {
  it.each([
    ["succeed", "task.succeeded"],
    ["failed", "task.failed"],
    ["timed_out", "task.timed_out"],
    ["not_found", "task.not_found"],
    ["error", "task.error"],
  ] as const)("maps status %s to event %s with the watch as data", (status, type) => {
    const now = new Date("2026-11-28T10:03:13.000Z");
    const body = JSON.parse(buildWebhookBody(view(status), now)) as Record<string, unknown>;
    expect(body).toEqual({ type, timestamp: "2026-11-28T10:03:13.000Z", data: view(status) });
  });

  it("refuses to build an event for a cancelled watch, which notifies nobody", () => {
    expect(() => buildWebhookBody(view("cancelled"), new Date())).toThrow();
  });
});
