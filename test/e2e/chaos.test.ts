/**
 * kill -9 at random moments under load, restart on the same data directory:
 * nothing lost, nothing wrong, nothing stuck or polled forever, one
 * webhook-id per task. The bigger run: `npm run chaos` (scripts/chaos.ts).
 */
import { describe, expect, it } from "vitest";
import { runChaos } from "../../infra/dev/chaos";

describe("crash safety of the local stack", () => {
  it("survives kill -9 and restart under load", async () => {
    const report = await runChaos({ watches: 120, kills: 4, settleMs: 25_000 });
    // On failure, the figures say which watches and how.
    console.log(JSON.stringify({ ...report, durationMs: report.durationMs }));
    expect({ lost: report.lost, wrong: report.wrong, stuck: report.stuck, notNotified: report.notNotified, multipleIds: report.multipleIds }).toEqual({
      lost: [],
      wrong: [],
      stuck: [],
      notNotified: [],
      multipleIds: [],
    });
    expect(report.pollsAfterEnd).toBe(0);
    expect(report.restarts).toBe(4);
  }, 90_000);
});
