/**
 * HTTP errors in the documented shape `{"error": {code, message, issues?}}`.
 * Only errors marked `expose` show their message; anything else becomes a
 * bare 500 with no internals.
 */
import { TaskwatchError } from "../domain/errors";
import { type HttpResponse, json } from "./message";

export interface FieldIssue {
  path: string;
  message: string;
}

/** An error meant for the client, in middy's shape: a status, a stable code, and whether its message may be shown. */
export class HttpError extends TaskwatchError {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly issues?: FieldIssue[],
    readonly expose = true,
    /** APIG's own refusal, for 422 `apig_rejected`. */
    readonly apig?: { http_status: number; error_code: string; error_msg: string },
    /** More of the answer's `error` object (the import gate's `check`). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function errorResponse(err: HttpError): HttpResponse {
  return json(err.statusCode, {
    error: {
      code: err.code,
      message: err.message,
      ...(err.issues ? { issues: err.issues } : {}),
      ...(err.apig ? { apig: err.apig } : {}),
      ...err.details,
    },
  });
}

export const validationError = (issues: FieldIssue[]) =>
  new HttpError(400, "validation_failed", "request has invalid fields", issues);

export const methodNotAllowed = () => new HttpError(405, "method_not_allowed", "method not allowed on this route");

export const notFound = (what = "no such watch") => new HttpError(404, "not_found", what);

/** A fault inside this request (the table failing, a bug): retryable, and nothing else is affected. */
export function unavailable(retryAfterS = 1): HttpResponse {
  const r = errorResponse(new HttpError(503, "unavailable", "temporarily unavailable; try again"));
  return { ...r, headers: { ...r.headers, "retry-after": String(retryAfterS) } };
}
