import { describe, expect, it } from "vitest";
import { afterTry } from "../../lib/domain/delivery";
import { newTarget } from "../../lib/app/register";

describe("attempts log", () => {
  it("keeps the last 10 tries, oldest first, each with start time, status, duration and error", () => {
    let t = newTarget({ type: "webhook", url: "https://x.example.com", secret: "whsec_x" }, 0);
    const schedule = Array.from({ length: 20 }, () => 1);
    for (let i = 0; i < 12; i++) {
      t = afterTry(t, { ok: false, final: false, error: `HTTP 50${i % 10}`, http_status: 500 + (i % 10), duration_ms: 100 + i }, new Date(Date.UTC(2026, 0, 1, 0, 0, i)), schedule, () => 0.5);
    }
    expect(t.attempts_log).toHaveLength(10);
    expect(t.attempts_log[0]).toEqual({ at: "2026-01-01T00:00:01.898Z", http_status: 502, duration_ms: 102, error: "HTTP 502" });
    t = afterTry(t, { ok: true, status: 204, duration_ms: 5 }, new Date(Date.UTC(2026, 0, 1, 0, 1)), schedule, () => 0.5);
    expect(t.attempts_log.at(-1)).toEqual({ at: "2026-01-01T00:00:59.995Z", http_status: 204, duration_ms: 5, error: null });
    expect(t.state).toBe("delivered");
    // A try that got no answer logs a null status.
    t = afterTry(t, { ok: false, final: false, error: "no answer within 15000 ms" }, new Date(0), schedule, () => 0.5);
    expect(t.attempts_log.at(-1)).toMatchObject({ http_status: null, duration_ms: 0 });
  });
});
