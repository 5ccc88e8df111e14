/**
 * What an AWS SDK error says about itself, for a log line: its error name
 * (`AccessDeniedException`, `ResourceNotFoundException`, ...) and whether it
 * is a refusal by IAM, which is a missing grant in the stack, not an outage.
 */
import { errorText } from "../domain/error-text";

/** True for IAM's refusal of a call (AWS services name it one of these). */
export function isAccessDenied(err: unknown): boolean {
  const name = err instanceof Error ? err.name : "";
  return name === "AccessDeniedException" || name === "AccessDenied" || name === "UnauthorizedOperation";
}

/**
 * Log a failed AWS call. An AccessDenied is logged as `aws_access_denied`
 * (with `during` naming what was attempted) so one log search or metric
 * filter finds every missing grant, whichever call hit it; anything else
 * under `event`.
 */
export function logAwsError(log: { error(event: string, fields?: Record<string, unknown>): void }, event: string, err: unknown): void {
  const fields = { aws_error: err instanceof Error ? err.name : typeof err, error: errorText(err).slice(0, 500) };
  if (isAccessDenied(err)) log.error("aws_access_denied", { during: event, ...fields });
  else log.error(event, fields);
}
