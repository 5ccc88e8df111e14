import type { Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { faultOf } from "../../lib/domain/apig-fault";
import { METRIC, recordDelivery, recordPoll, recordTick } from "../../lib/app/telemetry";
import type { ApigObservation } from "../../lib/domain/lifecycle";
import { newTarget, newWatch } from "../../lib/app/register";
import { loopSummary } from "../../infra/dev/sim/loop-sim";
import { createLogger } from "../../lib/aws/log";
import { createMetrics, groupKey } from "../../lib/aws/metrics";

const lambdaContext = {
  functionName: "apig-taskwatch-prod-poller",
  memoryLimitInMB: "512",
  invokedFunctionArn: "arn:aws:lambda:eu-central-1:123456789012:function:apig-taskwatch-prod-poller",
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

function capture() {
  const lines: string[] = [];
  return { lines, sink: (l: string) => lines.push(l), parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

describe("logger (Powertools shape)", () => {
  it("writes one JSON object per line with level, message, timestamp, service, the event and the fields", () => {
    const out = capture();
    const log = createLogger({ serviceName: "apig-taskwatch-prod", sink: out.sink });
    log.error("delivery_dead", { task_id: "t-1", tenant: "acme", attempts: 4 });
    expect(out.lines).toHaveLength(1);
    const line = out.parsed()[0]!;
    expect(line).toMatchObject({
      level: "ERROR",
      message: "delivery_dead",
      event: "delivery_dead",
      service: "apig-taskwatch-prod",
      task_id: "t-1",
      tenant: "acme",
      attempts: 4,
    });
    expect(new Date(line.timestamp).toISOString()).toBe(line.timestamp);
  });

  it("adds the Lambda context and cold start once an invocation's context is set", () => {
    const out = capture();
    const log = createLogger({ serviceName: "svc", sink: out.sink });
    log.addContext(lambdaContext);
    log.info("tick", { due: 3 });
    log.addContext({ ...lambdaContext, awsRequestId: "second" } as Context);
    log.info("tick", { due: 1 });
    const [first, second] = out.parsed();
    expect(first).toMatchObject({ function_request_id: lambdaContext.awsRequestId, function_name: lambdaContext.functionName, cold_start: expect.any(Boolean) });
    expect(second).toMatchObject({ function_request_id: "second", cold_start: false });
  });

  it("drops lines below LOG_LEVEL", () => {
    const out = capture();
    const log = createLogger({ serviceName: "svc", logLevel: "WARN", sink: out.sink });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(out.parsed().map((l) => l.message)).toEqual(["w", "e"]);
    const all = capture();
    createLogger({ serviceName: "svc", logLevel: "DEBUG", sink: all.sink }).debug("d");
    expect(all.parsed().map((l) => l.level)).toEqual(["DEBUG"]);
  });
});

describe("metrics (EMF through Powertools)", () => {
  const emfOf = (line: Record<string, any>) => line._aws.CloudWatchMetrics[0] as { Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> };

  it("publishes a fault by category and region, and by category alone for alarms over every region", () => {
    const out = capture();
    const m = createMetrics({ serviceName: "apig-taskwatch-prod", sink: out.sink });
    recordPoll(m, "eu-de", { ok: false, category: "transient", code: "APIG.1002", message: "bad token", http_status: 401 });
    recordPoll(m, "eu-de", { ok: false, category: "transient", code: "APIG.1002", message: "bad token", http_status: 401 });
    recordPoll(m, "eu-nl", { ok: true, status: "processing", task_type: "import", task_result: "" });
    m.flush();
    const lines = out.parsed();
    const fault = lines.find((l) => METRIC.apigFaults in l)!;
    expect(emfOf(fault)).toEqual({
      Namespace: "ApigTaskwatch",
      Dimensions: [["service", "category", "region"], ["service", "category"]],
      Metrics: [{ Name: "ApigFaults", Unit: "Count" }],
    });
    expect(fault).toMatchObject({ service: "apig-taskwatch-prod", category: "auth", region: "eu-de", ApigFaults: 2 });
    const polls = lines.filter((l) => METRIC.polls in l).map((l) => [l.region, l.Polls, emfOf(l).Dimensions]);
    expect(polls.sort()).toEqual([
      ["eu-de", 2, [["service", "region"], ["service"]]],
      ["eu-nl", 1, [["service", "region"], ["service"]]],
    ]);
    out.lines.length = 0;
    m.flush();
    expect(out.lines).toEqual([]);
  });

  it("reports a tick's backlog and counts, deliveries by result and the detection latency of a delivered one", () => {
    const out = capture();
    const m = createMetrics({ serviceName: "svc", sink: out.sink });
    recordTick(m, loopSummary({ watches: 5, polls: 4, transitions: 2, errors: 1, oldestDueAgeS: 42 }));
    const finished = { ...newWatch("acme", { project_id: "p", instance_id: "i", task_id: "t", region: "eu-de", targets: [], labels: {}, timeout_s: 600 }, new Date(0)), finished_at: new Date(10_000).toISOString() };
    const target = newTarget({ type: "slack", url: "https://hooks.slack.com/x" }, 0);
    recordDelivery(m, finished, { ...target, state: "delivered" }, new Date(13_500));
    recordDelivery(m, finished, { ...target, state: "dead" }, new Date(20_000));
    m.flush();
    const lines = out.parsed();
    const tick = lines.find((l) => "OldestDueAgeSeconds" in l)!;
    expect(tick).toMatchObject({ OldestDueAgeSeconds: 42, DueWatches: 5, Transitions: 2, WatchErrors: 1, DeferredWatches: 0, service: "svc" });
    expect(emfOf(tick).Dimensions).toEqual([["service"]]);
    expect(emfOf(tick).Metrics).toContainEqual({ Name: "OldestDueAgeSeconds", Unit: "Seconds" });
    expect(tick.DetectionLatency).toBe(3_500);
    expect(emfOf(tick).Metrics).toContainEqual({ Name: "DetectionLatency", Unit: "Milliseconds" });
    const deliveries = lines.filter((l) => "Deliveries" in l).map((l) => [l.result, l.Deliveries]);
    expect(deliveries.sort()).toEqual([["dead", 1], ["delivered", 1]]);
  });

  it("splits more than 100 values of one metric over several lines, as EMF requires", () => {
    const out = capture();
    const m = createMetrics({ serviceName: "svc", sink: out.sink });
    for (let i = 0; i < 150; i++) m.observe(METRIC.detectionLatency, i, "Milliseconds");
    m.flush();
    const values = out.parsed().map((l) => l.DetectionLatency as number[]);
    expect(values.map((v) => v.length)).toEqual([99, 51]);
    expect(values.flat()).toEqual(Array.from({ length: 150 }, (_, i) => i));
  });
});

describe("APIG fault categories", () => {
  const fault = (code: string, http_status: number | null, category: "transient" | "permanent" | "not_found" = "transient"): ApigObservation & { ok: false } => ({
    ok: false,
    category,
    code,
    message: "",
    http_status,
  });
  it.each([
    [fault("APIG.1002", 401), "auth"],
    [fault("iam_unauthorized", null), "auth"],
    [fault("auth_failed", null), "auth"],
    [fault("ECONNREFUSED", null), "unreachable"],
    [fault("timeout", null), "unreachable"],
    [fault("iam_unavailable", null), "unreachable"],
    [fault("APIG.9008", 500), "throttled"],
    [fault("http_429", 429), "throttled"],
    // Huawei Cloud's front door throttles with 429 APIG.0308.
    [fault("APIG.0308", 429), "throttled"],
    [fault("APIG.3500", 500), "server"],
    [fault("http_502", 502), "server"],
    [fault("APIG.3093", 404, "not_found"), "not_found"],
    [fault("APIG.2012", 400, "permanent"), "rejected"],
    [fault("bad_response", 200), "other"],
  ])("%o is %s", (o, expected) => {
    expect(faultOf(o)).toBe(expected);
  });
});

describe("metrics: one group per dimension set", () => {
  it("whatever the order of the names, and never one for two different sets", () => {
    expect(groupKey({ region: "eu-de", category: "auth" })).toBe(groupKey({ category: "auth", region: "eu-de" }));
    const sets: Array<Record<string, string>> = [{}, { region: "eu-de" }, { region: "eu-nl" }, { a: "x,", b: "y" }, { a: "x", b: ",y" }, { a: 'x":"b' }, { "a:": "b" }, { a: ":b" }];
    expect(new Set(sets.map(groupKey)).size).toBe(sets.length);
  });
});
