/** Lambda handler of the HTTP API: API Gateway v2 event in, JSON answer out. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { fromApiGatewayEvent, toApiGatewayResult } from "../lib/http/apigw-event";
import { handleHttp } from "../lib/http/router";
import { lazyDeps, telemetryFrom } from "../lib/platform/bootstrap";

const telemetry = telemetryFrom();
const deps = lazyDeps(process.env, { telemetry });

export async function handler(event: APIGatewayProxyEventV2, context?: Context): Promise<APIGatewayProxyStructuredResultV2> {
  if (context) telemetry.log.addContext(context);
  try {
    const d = await deps();
    if (!d.ok) return toApiGatewayResult({ statusCode: 500, headers: { "content-type": "application/json" }, body: JSON.stringify({ error: { code: "internal_error", message: "service misconfigured" } }) });
    return toApiGatewayResult(await handleHttp(d.deps, fromApiGatewayEvent(event)));
  } finally {
    // A registration polls APIG (and may deliver): its metrics leave with this request.
    telemetry.metrics.flush();
  }
}
