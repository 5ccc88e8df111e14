/** Lambda handler of the HTTP API: API Gateway v2 event in, JSON answer out. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { fromApiGatewayEvent, toApiGatewayResult } from "../lib/http/apigw-event";
import { handleHttp } from "../lib/http/router";
import { lazyDeps } from "../lib/platform/bootstrap";

const deps = lazyDeps();

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const d = await deps();
  if (!d.ok) return toApiGatewayResult({ statusCode: 500, headers: { "content-type": "application/json" }, body: JSON.stringify({ error: { code: "internal_error", message: "service misconfigured" } }) });
  return toApiGatewayResult(await handleHttp(d.deps, fromApiGatewayEvent(event)));
}
