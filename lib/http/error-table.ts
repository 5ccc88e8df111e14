/**
 * The one table from what a use case answered (or threw) to the HTTP answer
 * a client gets. Every expected failure of `lib/app` has a row here; anything
 * thrown that is not an exposed {@link HttpError} is a 503 with no internals.
 */
import type { CancelResult } from "../app/cancel";
import type { ReadResult } from "../app/read-watch";
import type { RedeliverResult } from "../app/redeliver";
import type { RegisterResult } from "../app/register";
import type { CheckedImportResult } from "../app/checked-import";
import type { SubmitAndWatchResult } from "../app/submit";
import type { WatchOptionsResult } from "../app/watch-options";
import type { ListResult } from "../app/ports";
import type { ReadExportResult } from "../app/exports";
import { ExportUnreadableError } from "../domain/errors";
import { errorResponse, HttpError, notFound, unavailable, validationError } from "./errors";
import type { HttpResponse } from "./message";

type FailureOf<R> = R extends { ok: false } ? R : never;

/** Every expected failure the API's use cases return. */
export type Failure = FailureOf<
  CancelResult | ReadResult | RedeliverResult | RegisterResult | SubmitAndWatchResult | CheckedImportResult | WatchOptionsResult | ListResult | ReadExportResult
>;

/** The client error a use case's failure is answered with. */
export function httpErrorOf(f: Failure): HttpError {
  switch (f.reason) {
    case "not_found":
      return notFound();
    case "busy":
      return new HttpError(503, "busy", "the watch is changing; try again");
    case "conflict":
      return new HttpError(
        409,
        "conflict",
        `this task_id is already watched with a different ${f.fields.join(", ")}`,
        f.fields.map((field) => ({ path: field, message: "differs from the watch already registered for this task_id" })),
      );
    case "already_finished":
      return new HttpError(409, "already_finished", `the watch already ended as ${f.watch.status}`);
    case "not_finished":
      return new HttpError(409, "not_finished", `the watch is still ${f.watch.status}; nothing was sent yet`);
    case "cancelled":
      return new HttpError(409, "cancelled", "the watch was cancelled; it owes no notification");
    case "unknown_targets":
      return validationError([{ path: "targets", message: `no such target: ${f.ids.join(", ")}` }]);
    case "invalid_cursor":
      return validationError([{ path: "cursor", message: "cursor is not valid" }]);
    case "unknown_region": {
      const served = f.served.join(", ");
      return new HttpError(400, "unknown_region", `region ${f.region} is not served here; served: ${served}`, [
        { path: "region", message: `must be one of: ${served}` },
      ]);
    }
    case "apig_rejected":
      return new HttpError(422, "apig_rejected", `APIG refused the request: ${f.error_code} ${f.error_msg}`.slice(0, 600), undefined, true, {
        http_status: f.http_status,
        error_code: f.error_code,
        error_msg: f.error_msg,
      });
    case "spec_rejected": {
      const errors = f.check.findings.filter((x) => x.severity === "error");
      return new HttpError(
        422,
        "spec_rejected",
        `the document breaks ${errors.length} APIG import rule${errors.length === 1 ? "" : "s"}; nothing was submitted`,
        errors.map((x) => ({ path: x.pointer, message: `${x.line}:${x.column} ${x.rule} ${x.message}` })),
        true,
        undefined,
        { check: f.check },
      );
    }
    case "forbidden_project":
      return new HttpError(403, "forbidden_project", `this API key may not use project ${f.project_id.slice(0, 64)}`);
    case "apig_unavailable":
      return new HttpError(502, "apig_unavailable", f.message);
    case "no_export":
      return new HttpError(404, "no_export", "this watch has no stored export document");
    case "export_expired":
      return new HttpError(410, "export_expired", `the export was kept until ${f.expired_at} (RETENTION_DAYS after the task ended) and is gone`);
    case "export_too_large":
      return new HttpError(422, "export_too_large", `the compressed export is ${f.gzip_bytes} bytes; one answer carries at most ${f.limit} (Lambda's 6 MB response, base64)`);
  }
}

/** The value of a use case's result, or its failure thrown as the matching client error. */
export function valueOr<R extends { ok: boolean }>(r: R): Exclude<R, { ok: false }> {
  if (r.ok) return r as Exclude<R, { ok: false }>;
  throw httpErrorOf(r as unknown as Failure);
}

/**
 * The answer to anything thrown: an exposed client error as it is; anything
 * else (the table failing, a bug) answers this request alone 503
 * `unavailable`, retryable, with no internals.
 */
export function thrownAnswer(err: unknown): { response: HttpResponse; unexpected: boolean } {
  if (err instanceof HttpError && err.expose) return { response: errorResponse(err), unexpected: false };
  // Persistent, unlike a store fault: a 500 that says so (logged where it was found), never a wrong document.
  if (err instanceof ExportUnreadableError) {
    return { response: errorResponse(new HttpError(500, err.code, "the stored export is damaged or incomplete; it cannot be served")), unexpected: false };
  }
  return { response: unavailable(), unexpected: true };
}

/** The answer while the service cannot start (a broken configuration): a 500 that names nothing internal. */
export function misconfiguredAnswer(): HttpResponse {
  return errorResponse(new HttpError(500, "internal_error", "service misconfigured"));
}
