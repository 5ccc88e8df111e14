/**
 * Error -> short, safe text, in one place: every log line, `last_error` and
 * API answer that describes a caught error goes through here, so nothing
 * that could carry a credential leaves the process.
 */

/** Longest error text we keep anywhere. */
export const MAX_ERROR_CHARS = 300;

/** `token=…`, `password: …`, `Signature=…` and friends, with their values blanked. */
export function redact(text: string): string {
  return text.replace(/(token|password|secret|signature|authorization)[^\s,;]*[=:]\s*\S+/gi, "$1=[redacted]");
}

/** The stable `code` an error carries (undici's `UND_ERR_*`, Node's `ECONNREFUSED`), or `fallback`. */
export function errorCode(err: unknown, fallback: string): string {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return fallback;
}

/** Whether an error is a timeout or an abort by our own deadline. */
export function isTimeout(err: unknown): boolean {
  const name = err instanceof Error ? err.name : "";
  return name === "TimeoutError" || /timeout|abort/i.test(`${name} ${errorCode(err, "")}`);
}

/** The error's message, redacted and capped. */
export function errorMessage(err: unknown, max = MAX_ERROR_CHARS): string {
  const msg = err instanceof Error ? err.message : String(err);
  return redact(msg).slice(0, max);
}

/** `Name: message`, redacted and capped, for log lines about unexpected errors. */
export function errorText(err: unknown, max = MAX_ERROR_CHARS): string {
  if (!(err instanceof Error)) return "unknown";
  return redact(`${err.name}: ${err.message}`).slice(0, max);
}
