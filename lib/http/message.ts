/** Transport-neutral HTTP request and answer. */

export interface HttpRequest {
  method: string;
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  body: Buffer | null;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  /** Text, or with `isBase64Encoded` binary in base64 (API Gateway decodes it). */
  body: string;
  isBase64Encoded?: boolean;
}

export const json = (statusCode: number, body: unknown): HttpResponse => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
