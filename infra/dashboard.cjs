// The CloudWatch dashboard of one stage, as serverless.yml's DashboardBody
// (`${file(./infra/dashboard.cjs)}`): osls calls this function while it
// resolves the configuration. CommonJS because osls loads it with require().
// Metric names and dimensions are the catalogue in lib/app/telemetry.ts.
"use strict";

const NS = "ApigTaskwatch";
const FAULT_CATEGORIES = ["auth", "unreachable", "throttled", "server", "not_found", "rejected", "other"];

/**
 * Returns `{ "Fn::Join": [...] }`: the body is JSON text, with the stack's own
 * names (function names, table, API id, region) spliced in by CloudFormation.
 */
module.exports = async ({ resolveVariable }) => {
  const service = `${await resolveVariable("self:service")}-${await resolveVariable("sls:stage")}`;
  // Placeholders in the JSON text, replaced below by CloudFormation references.
  const ref = (logicalId) => `@@${logicalId}@@`;
  const region = ref("AWS::Region");
  const svc = ["service", service];
  const widget = (x, y, title, metrics, extra = {}) => ({
    type: "metric",
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, region, view: "timeSeries", stacked: false, period: 60, metrics, ...extra },
  });

  const widgets = [
    widget(0, 0, "Detection latency: task end seen -> notification delivered (ms)", [
      [NS, "DetectionLatency", ...svc, { stat: "p50", label: "p50" }],
      [NS, "DetectionLatency", ...svc, { stat: "p99", label: "p99" }],
    ]),
    widget(12, 0, "Backlog: oldest owed work (s), due and deferred watches", [
      [NS, "OldestDueAgeSeconds", ...svc, { stat: "Maximum" }],
      [NS, "DueWatches", ...svc, { stat: "Sum", yAxis: "right" }],
      [NS, "DeferredWatches", ...svc, { stat: "Sum", yAxis: "right" }],
    ]),
    widget(0, 6, "APIG polls and transitions", [
      [NS, "Polls", ...svc, { stat: "Sum" }],
      [NS, "Transitions", ...svc, { stat: "Sum" }],
      [NS, "WatchErrors", ...svc, { stat: "Sum" }],
    ]),
    widget(
      12,
      6,
      "APIG faults by category (all regions)",
      FAULT_CATEGORIES.map((c) => [NS, "ApigFaults", ...svc, "category", c, { stat: "Sum" }]),
      { stacked: true },
    ),
    widget(0, 12, "Deliveries by result", [
      ...["delivered", "retry", "dead"].map((r) => [NS, "Deliveries", ...svc, "result", r, { stat: "Sum" }]),
      [NS, "DeadDeliveries", ...svc, { stat: "Sum", label: "dead (log filter, API and poller)" }],
    ]),
    widget(12, 12, "Lambda errors and throttles", [
      ["AWS/Lambda", "Errors", "FunctionName", ref("PollerLambdaFunction"), { stat: "Sum", label: "poller errors" }],
      ["AWS/Lambda", "Throttles", "FunctionName", ref("PollerLambdaFunction"), { stat: "Sum", label: "poller throttles" }],
      ["AWS/Lambda", "AsyncEventsDropped", "FunctionName", ref("PollerLambdaFunction"), { stat: "Sum", label: "poller invocations dropped" }],
      [NS, "WorkersFailedToStart", ...svc, { stat: "Sum", label: "fan-out workers not started" }],
      ["AWS/Lambda", "Errors", "FunctionName", ref("ApiLambdaFunction"), { stat: "Sum", label: "api errors" }],
      ["AWS/Lambda", "Throttles", "FunctionName", ref("ApiLambdaFunction"), { stat: "Sum", label: "api throttles" }],
    ]),
    widget(0, 18, "DynamoDB throttles", [
      ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", ref("WatchTable"), { stat: "Sum" }],
      ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", ref("WatchTable"), { stat: "Sum" }],
      ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", ref("WatchTable"), "GlobalSecondaryIndexName", "due", { stat: "Sum", label: "due index reads" }],
    ]),
    widget(12, 18, "HTTP API answers", [
      ["AWS/ApiGateway", "Count", "ApiId", ref("HttpApi"), { stat: "Sum" }],
      ["AWS/ApiGateway", "4xx", "ApiId", ref("HttpApi"), { stat: "Sum" }],
      ["AWS/ApiGateway", "5xx", "ApiId", ref("HttpApi"), { stat: "Sum" }],
    ]),
  ];

  const text = JSON.stringify({ widgets });
  const parts = text.split(/@@([A-Za-z:]+)@@/);
  // split() with a capture group alternates text, logical id, text, ...
  return { "Fn::Join": ["", parts.map((p, i) => (i % 2 === 1 ? { Ref: p } : p)).filter((p) => p !== "")] };
};
