/**
 * Every error this service throws, in one module. Each has a stable `code`
 * that logs, metrics and tests match on (messages may change; codes do not),
 * sets its `name`, and takes `{ cause }`.
 *
 * Thrown errors are for faults: a broken configuration, a store or network
 * failure, a malformed item. What a caller may expect in the normal course
 * (a conflict, a bad cursor, a watch that is not there) is a returned result
 * (see `app/results.ts`), and `http/error-table.ts` maps both to HTTP answers.
 */

/** Base of every error of ours. */
export abstract class TaskwatchError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration does not hold; `issues` names each variable at fault, never its value. */
export class ConfigError extends TaskwatchError {
  readonly code = "config_invalid";
  constructor(
    message: string,
    readonly issues: Array<{ variable: string; message: string }>,
  ) {
    super(message);
  }
}

/** Two SSM parameters under the secrets path set the same variable. */
export class SecretsError extends TaskwatchError {
  readonly code = "secrets_conflict";
}

/** An answer longer than the caller was willing to read. */
export class ResponseTooLargeError extends TaskwatchError {
  readonly code = "response_too_large";
  constructor(
    readonly status: number,
    readonly maxBodyBytes: number,
  ) {
    super(`answer over ${maxBodyBytes} bytes`);
  }
}

/** Code of {@link SsrfBlockedError}, also used as a delivery's error text. */
export const SSRF_BLOCKED = "ERR_SSRF_BLOCKED";

/** A connection to a private, loopback, link-local or metadata address was refused. */
export class SsrfBlockedError extends TaskwatchError {
  readonly code = SSRF_BLOCKED;
}

/** A webhook signature that does not verify, or a secret that is not `whsec_` + base64. */
export class WebhookSignatureError extends TaskwatchError {
  readonly code = "signature_invalid";
}

/** A stored item that does not parse as a watch. */
export class MalformedItemError extends TaskwatchError {
  readonly code = "item_malformed";
}

/** The table did something it should not (an item vanished mid-registration). */
export class StoreError extends TaskwatchError {
  readonly code = "store_failed";
}

/**
 * Codes of {@link IamAuthError}:
 * - `iam_unauthorized`: IAM refused the credentials (401); retrying will not help.
 * - `iam_throttled`: IAM kept answering 429; `retryAfterMs` says when to try again if IAM said.
 * - `iam_unavailable`: network error, timeout or 5xx; transient.
 * - `iam_bad_response`: IAM answered 2xx without a token.
 */
export type IamErrorCode = "iam_unauthorized" | "iam_throttled" | "iam_unavailable" | "iam_bad_response";

/** IAM could not give us a token. */
export class IamAuthError extends TaskwatchError {
  readonly code: IamErrorCode;
  readonly httpStatus?: number;
  readonly retryAfterMs?: number;
  constructor(
    code: IamErrorCode,
    message: string,
    opts: { httpStatus?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    if (opts.httpStatus !== undefined) this.httpStatus = opts.httpStatus;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** A data directory already in use by another local stack (a live PID holds its lock). */
export class DataDirInUseError extends TaskwatchError {
  readonly code = "data_dir_in_use";
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`data directory ${dir} is in use by another instance (pid ${pid}); stop it first or set DATA_DIR to another directory`);
  }
}

/** Lambda did not accept an invocation: `status` is its answer, or null when none came (network, timeout). */
export class LambdaInvokeError extends TaskwatchError {
  readonly code = "lambda_invoke_failed";
  constructor(
    message: string,
    readonly status: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Worth another try: throttled (429), Lambda's own fault (5xx), or no answer at all. */
  get retryable(): boolean {
    return this.status === null || this.status === 429 || this.status >= 500;
  }
}

/** A change kept losing to concurrent changes of the same tenant's subscriptions: retryable. */
export class SubscriptionBusyError extends TaskwatchError {
  readonly code = "busy";
}

/** A stored watch that does not parse (read in a batch): the loop counts it as an error and backs off. */
export class MalformedWatchError extends TaskwatchError {
  readonly code = "item_malformed";
}

/** A stored export whose chunks are missing or do not match the watch's SHA-256: it is never served. */
export class ExportUnreadableError extends TaskwatchError {
  readonly code = "export_unreadable";
}
