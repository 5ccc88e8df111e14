/**
 * An APIG stand-in for simulations: each task answers `processing` until its
 * end time, then `succeed`, after a fixed latency on the virtual clock, and
 * can be told to fail transiently or throttle. It records when each task was
 * asked, for cadence and starvation checks.
 */
import type { TaskQuery, TaskRef } from "../../../lib/app/ports";
import type { ApigObservation } from "../../../lib/domain/lifecycle";
import type { VirtualTime } from "./virtual-time";

export interface FakeTask {
  /** Epoch ms from which APIG answers `succeed`. */
  endsAt: number;
  /** Answer every query with this fault instead (until cleared). */
  fault?: { code: string; http_status: number };
}

export class FakeApig implements TaskQuery {
  readonly tasks = new Map<string, FakeTask>();
  /** Query times (answer time) per task id. */
  readonly asked = new Map<string, number[]>();
  inFlight = 0;
  maxInFlight = 0;
  total = 0;

  constructor(
    private readonly vt: VirtualTime,
    private readonly latencyMs: number,
  ) {}

  async queryTask(ref: TaskRef): Promise<ApigObservation> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await this.vt.sleep(this.latencyMs);
    this.inFlight--;
    this.total++;
    const times = this.asked.get(ref.taskId) ?? [];
    times.push(this.vt.now);
    this.asked.set(ref.taskId, times);
    const t = this.tasks.get(ref.taskId);
    if (!t) return { ok: false, category: "not_found", code: "APIG.3093", message: "no such task", http_status: 404 };
    if (t.fault) {
      return { ok: false, category: "transient", code: t.fault.code, message: "fault", http_status: t.fault.http_status };
    }
    const done = this.vt.now >= t.endsAt;
    return {
      ok: true,
      status: done ? "succeed" : "processing",
      task_type: "import_api",
      task_result: done ? '{"success":[],"failure":[]}' : "",
    };
  }
}
