/**
 * The {@link Logger} port on the Powertools for AWS Lambda Logger: one JSON
 * object per line with `level`, `message`, `timestamp`, `service`, and in
 * Lambda the context (`function_request_id`, `cold_start`, ...). The event
 * name is the `message` and also stays in an `event` field, which the
 * CloudWatch metric filters in serverless.yml match (`{ $.event = "delivery_dead" }`).
 * Callers pass facts, never secrets.
 */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import type { LogItem } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import type { LogFields, Logger } from "../app/ports";

/** Levels `LOG_LEVEL` accepts (in any case), as Powertools names them. */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "SILENT"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A level name from the environment, or undefined when it names none. */
export function parseLogLevel(raw: string | undefined): LogLevel | undefined {
  const v = raw?.trim().toUpperCase() ?? "";
  return LOG_LEVELS.find((l) => l === v);
}


export type { LogFields, Logger };

export interface LoggerOptions {
  /** The `service` key of every line (`apig-taskwatch-prod`). */
  serviceName: string;
  /** Lines below this level are dropped. Default `INFO`. */
  logLevel?: LogLevel;
  /** Where lines go; default stdout/stderr as Powertools writes them (tests pass their own). */
  sink?: (line: string) => void;
}

/** Powertools Logger whose lines go to a function instead of the console. */
class SinkLogger extends PowertoolsLogger {
  constructor(
    options: ConstructorParameters<typeof PowertoolsLogger>[0],
    private readonly sink: (line: string) => void,
  ) {
    super(options);
  }
  protected override printLog(_level: number, item: LogItem): void {
    item.prepareForPrint();
    this.sink(JSON.stringify(item.getAttributes()));
  }
}

/** A {@link Logger} that also takes each Lambda invocation's context. */
export interface LambdaLogger extends Logger {
  /** Adds the invocation's request id, function name and cold start flag to every following line. */
  addContext(context: Context): void;
  /** Debug lines: only with `LOG_LEVEL=DEBUG`. */
  debug(event: string, fields?: LogFields): void;
}

/** A Powertools-backed {@link LambdaLogger}. */
export function createLogger(opts: LoggerOptions): LambdaLogger {
  const options = { serviceName: opts.serviceName, logLevel: opts.logLevel ?? "INFO" };
  const pt = opts.sink ? new SinkLogger(options, opts.sink) : new PowertoolsLogger(options);
  // `event` first among the extra keys: the metric filters count on it.
  const item = (event: string, fields?: LogFields) => ({ message: event, event, ...fields });
  return {
    debug: (e, f) => pt.debug(item(e, f)),
    info: (e, f) => pt.info(item(e, f)),
    warn: (e, f) => pt.warn(item(e, f)),
    error: (e, f) => pt.error(item(e, f)),
    addContext: (context) => pt.addContext(context),
  };
}

/** Logger that drops everything, for tests that do not look at logs. */
export const silentLogger: LambdaLogger = { debug() {}, info() {}, warn() {}, error() {}, addContext() {} };
