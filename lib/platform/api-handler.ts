/**
 * The HTTP API's Lambda handler, built from the environment; `functions/api.ts`
 * is one call to it. The dependencies are built once, when it runs at module load.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { fromApiGatewayEvent, toApiGatewayResult } from "../http/apigw-event";
import { misconfiguredAnswer } from "../http/error-table";
import { handleHttp } from "../http/router";
import { lazyDeps, telemetryFrom } from "./bootstrap";
import type { Env } from "./config";

export type ApiHandler = (event: APIGatewayProxyEventV2, context?: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** The HTTP API's handler: API Gateway v2 event in, JSON answer out. */
export function createApiHandler(env: Env = process.env): ApiHandler {
  const telemetry = telemetryFrom(env);
  const deps = lazyDeps(env, { telemetry });
  return async (event, context) => {
    if (context) telemetry.log.addContext(context);
    try {
      const d = await deps();
      if (!d.ok) return toApiGatewayResult(misconfiguredAnswer());
      return toApiGatewayResult(await handleHttp(d.deps, fromApiGatewayEvent(event)));
    } finally {
      // A registration polls APIG: its metrics leave with this request.
      telemetry.metrics.flush();
    }
  };
}

