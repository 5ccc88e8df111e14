// @ts-check
/**
 * The command line of `taskwatch`, read with node:util's parseArgs: the
 * commands, their options, and the global --url / --api-key / --json.
 */
import { parseArgs } from "node:util";

/** A usage or configuration problem: exit code 2. */
export class UsageError extends Error {
  /** @override */
  name = "UsageError";
  /**
   * @param {string} message
   * @param {boolean} [help] print the usage after the message
   */
  constructor(message, help = false) {
    super(message);
    this.help = help;
  }
}

/** @typedef {{ type: "string" | "boolean", multiple?: boolean, short?: string }} OptionSpec */

/** @type {Record<string, OptionSpec>} */
const GLOBAL = {
  url: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
};

/** One option per target type; repeat an option for more targets of that type. */
/** @type {Record<string, OptionSpec>} */
export const TARGET_OPTIONS = {
  webhook: { type: "string", multiple: true },
  secret: { type: "string", multiple: true },
  slack: { type: "string", multiple: true },
  teams: { type: "string", multiple: true },
  "teams-card": { type: "string", multiple: true },
  "google-chat": { type: "string", multiple: true },
  mattermost: { type: "string", multiple: true },
  pagerduty: { type: "string", multiple: true },
  "pagerduty-region": { type: "string" },
  "dedup-label": { type: "string" },
  eventbridge: { type: "string", multiple: true },
};

/** The usage of the target options. */
export const TARGET_USAGE =
  "[--webhook URL --secret S]... [--slack URL]... [--teams URL]... [--teams-card URL]... [--google-chat URL]... [--mattermost URL]... [--pagerduty ROUTING_KEY [--pagerduty-region us|eu] [--dedup-label L]]... [--eventbridge BUS_ARN]...";

/** Options a command that creates a watch takes: where to notify, labels, the watch's own timeout. */
/** @type {Record<string, OptionSpec>} */
const WATCH = {
  project: { type: "string" },
  instance: { type: "string" },
  region: { type: "string" },
  ...TARGET_OPTIONS,
  label: { type: "string", multiple: true },
  timeout: { type: "string" },
  wait: { type: "boolean" },
  "wait-timeout": { type: "string" },
};

/** Each command: its options, how many positional arguments it takes, and its usage line. */
export const COMMANDS = /** @type {const} */ ({
  register: {
    options: { ...WATCH, task: { type: "string" } },
    positionals: 0,
    usage: `register --project P --instance I --task T [--region R] ${TARGET_USAGE} [--label k=v]... [--timeout S] [--wait [--wait-timeout S]]`,
  },
  wait: { options: { timeout: { type: "string" } }, positionals: 1, usage: "wait TASK_ID [--timeout S]" },
  import: {
    options: {
      ...WATCH,
      file: { type: "string" },
      "file-name": { type: "string" },
      group: { type: "string" },
      "create-group": { type: "boolean" },
      "extend-mode": { type: "string" },
      "api-mode": { type: "string" },
      "simple-mode": { type: "boolean" },
      "mock-mode": { type: "boolean" },
      "dry-run": { type: "boolean" },
      junit: { type: "string" },
    },
    positionals: 0,
    usage: "import --project P --instance I --file spec.yaml [--group G | --create-group] [--region R] [--extend-mode merge|override] [--api-mode merge|override] [--simple-mode] [--mock-mode] [--file-name N] [...notify options] [--dry-run] [--junit FILE] [--wait [--wait-timeout S]]",
  },
  lint: {
    options: { group: { type: "string" }, "create-group": { type: "boolean" }, project: { type: "string" }, instance: { type: "string" } },
    positionals: 1,
    usage: "lint FILE [--group G | --create-group]",
  },
  listen: {
    options: { port: { type: "string" }, secret: { type: "string" }, host: { type: "string" } },
    positionals: 0,
    usage: "listen [--port P] [--secret whsec_...]",
  },
  export: {
    options: {
      ...WATCH,
      group: { type: "string" },
      env: { type: "string" },
      define: { type: "string" },
      type: { type: "string" },
      version: { type: "string" },
      api: { type: "string", multiple: true },
      "oas-version": { type: "string" },
      out: { type: "string" },
    },
    positionals: 0,
    usage: "export --project P --instance I --group G --env E [--define spec|proxy|all|dev] [--type json|yaml] [--oas-version 2.0|3.0] [--api ID]... [--out FILE] [--wait [--wait-timeout S]]",
  },
  get: { options: {}, positionals: 1, usage: "get TASK_ID" },
  list: {
    options: { status: { type: "string" }, outcome: { type: "string" }, limit: { type: "string" }, cursor: { type: "string" }, all: { type: "boolean" } },
    positionals: 0,
    usage: "list [--status S] [--outcome O] [--limit N] [--cursor C | --all]",
  },
  cancel: { options: {}, positionals: 1, usage: "cancel TASK_ID" },
  redeliver: { options: { target: { type: "string", multiple: true } }, positionals: 1, usage: "redeliver TASK_ID [--target t0]..." },
  subscribe: {
    options: { ...TARGET_OPTIONS, outcome: { type: "string", multiple: true }, "task-type": { type: "string", multiple: true }, label: { type: "string", multiple: true } },
    positionals: 1,
    usage: `subscribe NAME [--outcome failed|partial|succeeded|timed_out|not_found|error]... [--task-type import_api|export_api]... [--label k=v]... ${TARGET_USAGE}`,
  },
  subscriptions: { options: {}, positionals: 0, usage: "subscriptions" },
  unsubscribe: { options: {}, positionals: 1, usage: "unsubscribe NAME" },
  "test-target": { options: { ...TARGET_OPTIONS }, positionals: 0, usage: `test-target (one of) ${TARGET_USAGE}` },
});

/** @typedef {keyof typeof COMMANDS} CommandName */
/** @typedef {Record<string, string | boolean | string[] | undefined>} Values */
/** @typedef {{ command: CommandName | "help" | "version", values: Values, positionals: string[], url: string, apiKey: string | undefined, json: boolean }} Invocation */

/** The help text. */
export function helpText() {
  const lines = Object.values(COMMANDS).map((c) => `  taskwatch ${c.usage}`);
  return [
    "taskwatch: watch APIG async import/export tasks through apig-taskwatch",
    "",
    ...lines,
    "",
    "Global: --url URL (TASKWATCH_URL, default http://127.0.0.1:3000), --api-key KEY (TASKWATCH_API_KEY), --json",
    "Exit codes (wait, --wait): 0 succeeded, 1 failed/error/not_found/timed_out/cancelled, 2 usage or configuration,",
    "  3 partial, 4 still running at --timeout, 5 service unreachable, key refused, or not an apig-taskwatch URL,",
    "  or APIG refusing the credentials for 60 s; 6 the spec breaks an APIG import rule. Reference: docs/cli.md",
  ].join("\n");
}

/**
 * Read argv (without node and the script) and the environment.
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} env
 * @returns {Invocation}
 */
export function parseCommandLine(argv, env) {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError("no command given", true);
  if (name === "help" || name === "--help" || name === "-h") {
    return { command: "help", values: {}, positionals: [], url: "", apiKey: undefined, json: false };
  }
  if (name === "--version" || name === "-v" || name === "version") return { command: "version", values: {}, positionals: [], url: "", apiKey: undefined, json: false };
  if (!Object.hasOwn(COMMANDS, name)) throw new UsageError(`unknown command "${name}"; try: taskwatch --help`);
  const command = /** @type {CommandName} */ (name);
  const spec = COMMANDS[command];
  /** @type {{ values: Values, positionals: string[] }} */
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL, ...spec.options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message.split("\n")[0] : "bad arguments"}; usage: taskwatch ${spec.usage}`);
  }
  if (parsed.values.help) return { command: "help", values: {}, positionals: [], url: "", apiKey: undefined, json: false };
  if (parsed.positionals.length !== spec.positionals) {
    throw new UsageError(`usage: taskwatch ${spec.usage}`);
  }
  const url = String(parsed.values.url ?? env.TASKWATCH_URL ?? "http://127.0.0.1:3000").replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url / TASKWATCH_URL must be an http(s) URL, got "${url}"`);
  const key = parsed.values["api-key"] ?? env.TASKWATCH_API_KEY;
  return {
    command,
    values: parsed.values,
    positionals: parsed.positionals,
    url,
    apiKey: typeof key === "string" && key !== "" ? key : undefined,
    json: parsed.values.json === true,
  };
}

/**
 * A whole number of seconds from an option, or undefined when absent.
 * @param {Values} v
 * @param {string} name
 */
export function seconds(v, name) {
  const raw = v[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !/^\d+$/.test(raw)) throw new UsageError(`--${name} must be whole seconds`);
  return Number(raw);
}

/**
 * A required string option.
 * @param {Values} v
 * @param {string} name
 */
export function required(v, name) {
  const raw = v[name];
  if (typeof raw !== "string" || raw === "") throw new UsageError(`--${name} is required`);
  return raw;
}

/**
 * A string option or undefined.
 * @param {Values} v
 * @param {string} name
 */
export function optional(v, name) {
  const raw = v[name];
  return typeof raw === "string" ? raw : undefined;
}

/**
 * A repeatable option's values.
 * @param {Values} v
 * @param {string} name
 * @returns {string[]}
 */
export function many(v, name) {
  const raw = v[name];
  return Array.isArray(raw) ? raw : [];
}
