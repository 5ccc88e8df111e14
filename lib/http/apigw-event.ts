/**
 * API Gateway HTTP API (payload v2) events <-> transport-neutral requests.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { HttpRequest, HttpResponse } from "./router";

/** Translate an HTTP API v2 event; header names come out lower-case. */
export function fromApiGatewayEvent(event: APIGatewayProxyEventV2): HttpRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const body =
    event.body === undefined || event.body === null
      ? null
      : Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8");
  return {
    method: event.requestContext?.http?.method ?? "GET",
    path: event.rawPath ?? "/",
    headers,
    query: { ...(event.queryStringParameters ?? {}) },
    body,
  };
}

/** Translate an answer back into the structured result API Gateway expects. */
export function toApiGatewayResult(res: HttpResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: res.statusCode, headers: res.headers, body: res.body, isBase64Encoded: res.isBase64Encoded === true };
}
