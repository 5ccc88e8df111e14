/**
 * Structured JSON log lines, one per event, so CloudWatch metric filters can
 * count them (`{ $.event = "delivery_dead" }`). Callers pass facts, never
 * secrets: nothing here knows tokens, keys or URLs with credentials.
 */
import type { LogFields, Logger } from "../app/ports";

export type { LogFields, Logger };

/** Logger writing one JSON object per line to `write` (default stdout). */
export function jsonLogger(
  write: (line: string) => void = (l) => process.stdout.write(l + "\n"),
  base: LogFields = {},
): Logger {
  const emit = (level: string, event: string, fields?: LogFields) =>
    write(JSON.stringify({ level, event, time: new Date().toISOString(), ...base, ...fields }));
  return {
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
  };
}

/** Logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
