/**
 * `npm run rehearse`: the packaged stack run as Lambda runs it, every AWS
 * call checked against its function's role (README "Deployed as tested").
 * {@link runRehearsal} returns the report; {@link formatReport} prints it.
 * It fails on any denied call (but the scenario's deliberate put to a bus
 * outside the parameter), grant no call needed, 5xx, timeout, connection
 * beyond loopback, or a step of the scenario that did not answer as promised.
 */
import type { Invocation } from "./containers";
import { type Grant, neededGrants, unusedGrants } from "./grants";
import { callsPerRole, type AwsCall } from "./policy";
import { runScenario, type ScenarioResult } from "./scenario";
import { startRehearsalStack, type StackOptions } from "./stack";

export interface RehearsalOptions extends StackOptions {
  /** Seconds between scheduled poller invocations; default the template's POLL_INTERVAL_S (sets POLL_INTERVAL_S too). */
  intervalS?: number;
  /** Scheduled invocations after the idle one; default 2. */
  ticks?: number;
}

export interface FunctionFigures {
  memoryMb: number;
  timeoutS: number;
  invocations: number;
  cold: number;
  warm: number;
  errors: number;
  timeouts: number;
  throttles: number;
  containers: number;
  billedMs: number;
  gbSeconds: number;
  maxRssMb: number;
}

export interface RehearsalReport {
  ok: boolean;
  failures: string[];
  calls: AwsCall[];
  callsPerRole: Record<string, Record<string, number>>;
  denied: AwsCall[];
  /** Distinct (role, action, resource, condition keys) of the calls: the grants the code needs. */
  needed: string[];
  /** Grants of the packaged roles no call needed (Lambda's own log writes excepted). */
  unused: Grant[];
  timeouts: number;
  egress: Array<{ fn: string; host: string; port: number }>;
  functions: Record<string, FunctionFigures>;
  /** The first scheduled invocation, with nothing registered. */
  idlePoller: { billedMs: number; gbSeconds: number; cold: boolean; intervalS: number } | null;
  scenario: ScenarioResult;
  overrides: Record<string, string>;
  /** Log lines of ERROR level, for the failure report. */
  errorLines: string[];
}

function figures(invs: Invocation[], memoryMb: number, timeoutS: number): FunctionFigures {
  const billedMs = invs.reduce((n, i) => n + i.billedMs, 0);
  return {
    memoryMb,
    timeoutS,
    invocations: invs.filter((i) => !i.throttled).length,
    cold: invs.filter((i) => i.cold).length,
    warm: invs.filter((i) => !i.cold && !i.throttled).length,
    errors: invs.filter((i) => !i.ok && !i.throttled).length,
    timeouts: invs.filter((i) => i.timedOut).length,
    throttles: invs.filter((i) => i.throttled).length,
    containers: new Set(invs.filter((i) => !i.throttled).map((i) => i.container)).size,
    billedMs,
    gbSeconds: invs.reduce((n, i) => n + i.gbSeconds, 0),
    maxRssMb: Math.round(Math.max(0, ...invs.map((i) => i.maxRssKb)) / 1024),
  };
}

export async function runRehearsal(o: RehearsalOptions = {}): Promise<RehearsalReport> {
  const env = { ...(o.env ?? {}) };
  if (o.intervalS !== undefined) env.POLL_INTERVAL_S = String(o.intervalS);
  // One APIG query at a time per invocation: a handful of watches is then
  // more than one invocation can poll, so the coordinator fans out.
  env.POLL_CONCURRENCY ??= "1";
  const errorLines: string[] = [];
  const s = await startRehearsalStack({
    ...o,
    env,
    onLog: (l) => {
      if (/"level":"(ERROR|CRITICAL)"/.test(l.text) || /^\s*(Error|TypeError|ReferenceError)\b/.test(l.text)) errorLines.push(`${l.fn}#${l.container} ${l.text}`.slice(0, 600));
      o.onLog?.(l);
    },
  });
  try {
    const poller = s.stack.functions.find((f) => s.stack.schedules[f.logicalId])!;
    const intervalS = o.intervalS ?? Number(poller.environment.POLL_INTERVAL_S || 60);
    const scenario = await runScenario(s, { intervalS, ticks: o.ticks ?? 2 });
    const denied = s.auth.calls.filter((c) => !c.allowed && !scenario.expectedDenials.includes(c));
    const functions: Record<string, FunctionFigures> = {};
    for (const f of s.stack.functions) functions[f.name] = figures(s.lambda.invocations.filter((i) => i.fn === f.name), f.memoryMb, f.timeoutS);
    const timeouts = s.lambda.invocations.filter((i) => i.timedOut).length;
    const unused = await unusedGrants(s.stack.stack, s.stack.roles, s.auth.calls);
    const failures = [
      ...denied.map((c) => `denied: ${c.action} on ${c.resource} (${c.role}, ${c.fn}): ${c.reason}`),
      ...unused.map((g) => `granted but no call needed it: ${g.role} ${g.action} on ${g.resource}${g.condition ? ` if ${g.condition}` : ""}`),
      ...(timeouts ? [`${timeouts} invocation(s) timed out`] : []),
      ...s.egress.map((e) => `connection beyond loopback: ${e.fn} -> ${e.host}:${e.port}`),
      ...scenario.failures,
    ];
    const idle = scenario.idlePoller;
    return {
      ok: failures.length === 0,
      failures,
      calls: s.auth.calls,
      callsPerRole: callsPerRole(s.auth.calls, scenario.expectedDenials),
      denied,
      needed: neededGrants(s.auth.calls),
      unused,
      timeouts,
      egress: s.egress,
      functions,
      idlePoller: idle ? { billedMs: idle.billedMs, gbSeconds: idle.gbSeconds, cold: idle.cold, intervalS } : null,
      scenario,
      overrides: { ...s.overrides, ...env },
      errorLines,
    };
  } finally {
    await s.close();
  }
}

const n3 = (x: number) => x.toFixed(3);

export function formatReport(r: RehearsalReport): string {
  const out: string[] = [];
  out.push("AWS calls per role (action resource: count)");
  for (const [role, calls] of Object.entries(r.callsPerRole)) {
    out.push(`  ${role}`);
    for (const [k, n] of Object.entries(calls).sort()) out.push(`    ${String(n).padStart(5)}  ${k}`);
  }
  out.push(`grants no call needed: ${r.unused.length}`);
  out.push(`denied: ${r.denied.length}   timeouts: ${r.timeouts}   connections beyond loopback: ${r.egress.length}`);
  out.push(`/health: ${r.scenario.health.status} ${JSON.stringify((r.scenario.health.body as { status?: string } | null)?.status ?? null)}`);
  out.push(`webhooks: ${r.scenario.deliveries.total} delivered, ${r.scenario.deliveries.verified} verified (standardwebhooks), redelivery same webhook-id: ${r.scenario.deliveries.redeliveredSameId}`);
  const eb = r.scenario.eventBridge;
  out.push(`eventbridge (${eb.bus ?? "no bus packaged"}): ${eb.events.length} events taken [${eb.events.join("; ")}]; poller role's put to ${eb.unlistedBus.bus}: ${eb.unlistedBus.errorCode ?? "taken"}`);
  out.push(`fan-out: ${r.scenario.fanOut.workersStarted} worker invocations started by the coordinator, ${r.scenario.fanOut.workerRuns} ran`);
  out.push("routes (answers):");
  for (const [route, statuses] of Object.entries(r.scenario.routesHit).sort()) out.push(`  ${route.padEnd(34)} ${statuses.join(" ")}`);
  out.push("functions: invocations (cold/warm), containers, errors, timeouts, throttles, max RSS, billed, GB-s (memory x billed duration)");
  for (const [fn, f] of Object.entries(r.functions)) {
    out.push(
      `  ${fn.padEnd(28)} ${f.invocations} (${f.cold}/${f.warm}), ${f.containers} containers, ${f.errors} errors, ${f.timeouts} timeouts, ${f.throttles} throttles, ${f.maxRssMb} MB of ${f.memoryMb}, ${(f.billedMs / 1000).toFixed(1)} s, ${n3(f.gbSeconds)} GB-s`,
    );
  }
  if (r.idlePoller) {
    out.push(
      `idle poller invocation (POLL_INTERVAL_S=${r.idlePoller.intervalS}, ${r.idlePoller.cold ? "cold" : "warm"}): billed ${(r.idlePoller.billedMs / 1000).toFixed(2)} s, ${n3(r.idlePoller.gbSeconds)} GB-s`,
    );
  }
  out.push("local values in place of AWS/OTC: " + Object.entries(r.overrides).map(([k, v]) => `${k}=${v}`).join(" "));
  if (r.errorLines.length) {
    out.push(`ERROR log lines (${r.errorLines.length}):`);
    for (const l of r.errorLines.slice(0, 20)) out.push(`  ${l}`);
  }
  out.push(r.ok ? "REHEARSAL PASSED" : `REHEARSAL FAILED (${r.failures.length}):`);
  for (const f of r.failures) out.push(`  - ${f}`);
  return out.join("\n");
}
