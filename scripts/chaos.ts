/**
 * The bigger chaos run of the local stack, with figures:
 *   npm run chaos -- [watches=1000] [kills=10] [settle_s=240] [seed]
 * Registers `watches` tasks against an APIG simulator with 5xx, resets and
 * stalls, notifies a receiver that fails and hangs, kills `npm start` with
 * SIGKILL `kills` times at random moments, restarts it on the same DATA_DIR,
 * and prints how many watches were lost, wrong or stuck. Exits 1 on any.
 */
import { appendFileSync } from "node:fs";
import { runChaos } from "../infra/dev/chaos";

const [watches = "1000", kills = "10", settleS = "240", seed] = process.argv.slice(2);
const report = await runChaos({
  watches: Number(watches),
  kills: Number(kills),
  settleMs: Number(settleS) * 1000,
  ...(seed !== undefined ? { seed: Number(seed) } : {}),
  log: (l) => console.log(l),
  ...(process.env.CHAOS_STACK_LOG ? { stackOutput: (o: string) => appendFileSync(process.env.CHAOS_STACK_LOG!, `${o}\n----- killed -----\n`) } : {}),
});
const figures = {
  watches: report.watches,
  kills: report.kills,
  restarts: report.restarts,
  lost: report.lost.length,
  wrong: report.wrong.length,
  stuck: report.stuck.length,
  not_notified: report.notNotified.length,
  tasks_with_more_than_one_webhook_id: report.multipleIds.length,
  duplicate_deliveries_same_id: report.duplicateDeliveries,
  apig_polls_after_all_ended: report.pollsAfterEnd,
  index_entries_repaired_at_restarts: report.indexEntriesRepaired,
  duration_s: Math.round(report.durationMs / 1000),
};
console.log(JSON.stringify(figures, null, 2));
const bad = [...report.lost, ...report.wrong, ...report.stuck, ...report.notNotified, ...report.multipleIds];
if (bad.length > 0) console.log(`problem watches: ${bad.slice(0, 20).join(", ")}`);
process.exit(bad.length > 0 || report.pollsAfterEnd > 0 ? 1 : 0);
