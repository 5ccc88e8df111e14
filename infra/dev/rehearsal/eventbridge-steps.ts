/**
 * The rehearsal's EventBridge steps (README "Deployed as tested"): a watch
 * with an `eventbridge` target on the bus the stack was packaged with ends
 * in the APIG simulator, and exactly one event arrives, put by the poller's
 * role, with the product's `Source`, `DetailType` and `Detail`; the test
 * send of `POST /targets/test` puts one as the api role; a bus outside the
 * parameter is refused twice over: by registration (400), and by the
 * policy when the poller's own credentials put to it directly.
 */
import { putEvent } from "../../../lib/aws/eventbridge-put";
import { EVENT_SOURCE } from "../../../lib/notify/eventbridge-event";
import { Agent } from "../../../lib/net/undici";
import type { ApiAnswer } from "./api-gateway";
import type { PutEntry } from "./eventbridge-standin";
import { type AwsCall, credentialsFor } from "./policy";
import type { RehearsalStack } from "./stack";

export interface EventBridgeResult {
  /** The bus the stack was packaged with (the first of EVENTBRIDGE_BUS_ARNS), null if none. */
  bus: string | null;
  /** Every event taken, as `role DetailType task_id outcome`. */
  events: string[];
  /** What the stand-in answered the poller role's put to a bus outside the parameter. */
  unlistedBus: { bus: string; errorCode: string | null };
}

/** A bus of the same account and region that the stack was not packaged with. */
export const UNLISTED_BUS = "arn:aws:events:eu-central-1:123456789012:event-bus/not-in-the-parameter";
const TASK = "rehearsal-eb-partial";

export function eventBridgeSteps(
  s: RehearsalStack,
  o: {
    post: (path: string, body: unknown, want: number | number[]) => Promise<ApiAnswer>;
    fail: (m: string) => void;
    watch: (taskId: string, notify: unknown[]) => unknown;
  },
) {
  const { stack } = s;
  const api = stack.functions.find((f) => f.handler.includes("api"))!;
  const poller = stack.functions.find((f) => stack.schedules[f.logicalId])!;
  const bus = (poller.environment.EVENTBRIDGE_BUS_ARNS ?? "").split(",").map((b) => b.trim()).find(Boolean) ?? null;
  const target = (arn: string) => ({ type: "eventbridge", event_bus_arn: arn });
  const detailOf = (e: PutEntry) => {
    try {
      return JSON.parse(e.detail) as { type?: string; data?: { task_id?: string; outcome?: string | null } };
    } catch {
      return {};
    }
  };
  const ofPoller = () => s.eventBridge.events.filter((e) => e.role === poller.roleLogicalId);
  /** The denied call of the direct put to {@link UNLISTED_BUS}: expected, not a failure. */
  const expectedDenials: AwsCall[] = [];
  let unlistedBus: EventBridgeResult["unlistedBus"] = { bus: UNLISTED_BUS, errorCode: null };

  return {
    expectedDenials,
    /** Before the schedule starts: the watch whose end goes to the bus; a bus outside the parameter refused at registration. */
    async register() {
      if (bus === null) return o.fail("the stack was packaged without --param eventBridgeBusArns: the EventBridge send was not rehearsed");
      s.apig.addTask({ projectId: "p-rehearsal", instanceId: "i-rehearsal", taskId: TASK, taskType: "import_api" });
      await o.post("/tasks", o.watch(TASK, [target(bus)]), 201);
      await o.post("/tasks", o.watch("rehearsal-eb-unlisted", [target(UNLISTED_BUS)]), 400);
    },
    /** The api role's test send, and the poller role's own put to a bus outside the parameter. */
    async testSendAndProbe() {
      if (bus === null) return;
      await o.post("/targets/test", { target: target(bus) }, 200);
      const role = stack.roles.find((r) => r.logicalId === poller.roleLogicalId)!;
      const dispatcher = new Agent();
      try {
        const entry = { EventBusName: UNLISTED_BUS, Source: EVENT_SOURCE, DetailType: "task.test", Detail: JSON.stringify({ rehearsal: "unlisted bus" }) };
        const res = await putEvent(entry, { credentials: credentialsFor(role), dispatcher, endpoint: s.eventBridge.url, timeoutMs: 10_000 });
        unlistedBus = { bus: UNLISTED_BUS, errorCode: res.status === 200 ? (res.failed?.code ?? null) : `HTTP ${res.status}` };
      } finally {
        await dispatcher.close();
      }
      const refused = s.eventBridge.refused.find((e) => e.bus === UNLISTED_BUS && e.role === role.logicalId);
      if (refused?.call) expectedDenials.push(refused.call);
      if (unlistedBus.errorCode !== "AccessDeniedException") o.fail(`the poller role's put to ${UNLISTED_BUS} was not refused by its policy (answer: ${unlistedBus.errorCode ?? "taken"})`);
    },
    /** Wait (until `deadline`, epoch ms) for the poller's event of the finished watch. */
    async arrived(deadline: number) {
      if (bus === null) return;
      const ok = await s.eventBridge.waitFor(() => ofPoller().some((e) => detailOf(e).data?.task_id === TASK), deadline);
      if (!ok) o.fail(`no EventBridge event for ${TASK} within the wait`);
    },
    /** Once the schedule is done: exactly one event by the poller, one test event by the api, the right fields. */
    result(): EventBridgeResult {
      const events = s.eventBridge.events.map((e) => `${e.role} ${e.detailType} ${detailOf(e).data?.task_id ?? "-"} ${detailOf(e).data?.outcome ?? "-"}`);
      if (bus !== null) {
        const mine = ofPoller();
        if (mine.length !== 1) o.fail(`the poller's role put ${mine.length} events, not exactly one: ${events.join("; ")}`);
        for (const e of mine) {
          const d = detailOf(e);
          const want = { bus, source: EVENT_SOURCE, detailType: "task.succeeded", type: "task.succeeded", task: TASK, outcome: "partial" };
          const got = { bus: e.bus, source: e.source, detailType: e.detailType, type: d.type, task: d.data?.task_id, outcome: d.data?.outcome };
          if (JSON.stringify(got) !== JSON.stringify(want)) o.fail(`the poller's event was ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
        }
        const tests = s.eventBridge.events.filter((e) => e.role === api.roleLogicalId);
        if (tests.length !== 1 || tests[0]!.detailType !== "task.test" || tests[0]!.bus !== bus) o.fail(`the test send put ${tests.length} events as the api role: ${events.join("; ")}`);
      }
      return { bus, events, unlistedBus };
    },
  };
}
