/**
 * `npm run rehearse [-- --interval-s 5 --ticks 2 --due-shards 2 --package-dir DIR --kms-key-arn ARN --verbose]`:
 * package the stack and run it as Lambda would, every AWS call checked
 * against its role (infra/dev/rehearsal). Exit 1 when anything failed.
 */
import { parseArgs } from "node:util";
import { formatReport, runRehearsal } from "../infra/dev/rehearsal";

const { values } = parseArgs({
  options: {
    "interval-s": { type: "string" },
    ticks: { type: "string" },
    "package-dir": { type: "string" },
    "kms-key-arn": { type: "string" },
    "due-shards": { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

const started = Date.now();
const report = await runRehearsal({
  ...(values["interval-s"] ? { intervalS: Number(values["interval-s"]) } : {}),
  ...(values.ticks ? { ticks: Number(values.ticks) } : {}),
  ...(values["package-dir"] ? { packageDir: values["package-dir"] } : {}),
  ...(values["due-shards"] ? { env: { DUE_SHARDS: values["due-shards"] } } : {}),
  ...(values["kms-key-arn"] ? { parameters: { SsmKmsKeyArn: values["kms-key-arn"] } } : {}),
  ...(values.verbose ? { onLog: (l) => console.log(`[${l.fn}#${l.container}] ${l.text}`) } : {}),
});
console.log(formatReport(report));
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
process.exit(report.ok ? 0 : 1);
