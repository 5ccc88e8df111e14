// An APIG + IAM simulator on a real node:http server, for `npm start` with no OTC credentials and for the tests: its public API, the server and the dispatch.
/*
 * It answers the async-task query the way ShowAsyncTaskResult documents it,
 * creates tasks from async import and export (routes.ts, state.ts), checks
 * X-Auth-Token (static or IAM-issued) and AK/SK signatures, issues and expires
 * IAM tokens (iam.ts), and can script any answer per task.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { Iam, type Reply } from "./iam";
import { ApigRoutes, matchRoute, NO_SUCH_API } from "./routes";
import { errorBody, TaskTable } from "./state";

/**
 * One scripted answer: raw HTTP, a delay before the normal answer, the normal
 * answer once `hold` settles (a test decides when; a promise that never
 * settles is an answer that never comes), or a dropped connection.
 */
export type ScriptedAnswer =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { delayMs: number }
  | { hold: Promise<unknown> }
  | { reset: true };

/** Options of {@link startApigSimulator}; all optional. */
export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: an ephemeral port. */
  port?: number;
  auth?: {
    /** Static X-Auth-Token values accepted for any project. */
    tokens?: string[];
    /** AK/SK accepted in `SDK-HMAC-SHA256` signatures. */
    accessKey?: string;
    secretKey?: string;
    /** IAM users that may obtain tokens with `POST /v3/auth/tokens`. */
    users?: Array<{ domain: string; name: string; password: string }>;
    /** Lifetime of issued IAM tokens; default 86400 (24 h, like IAM). */
    tokenTtlS?: number;
  };
  /** Clock in epoch milliseconds, for token expiry and signature skew. */
  now?: () => number;
  /** Unknown task ids come into being as demo imports when first queried (for `npm start`). */
  autoTasks?: boolean;
  /** Queries a demo task stays in each of waiting and processing; default 1. */
  stepsPerState?: number;
  /** One line per request (method, path, status, duration); never headers or bodies. */
  log?: (line: string) => void;
  /** Every task query is answered this long after it arrived, as a distant APIG would (default 0). */
  latencyMs?: number;
  /**
   * How much history is kept, so a long `npm start` has bounded memory: the
   * last `requests` requests (default 10,000), `uploads` uploads (default 16)
   * and `tasks` tasks (default 20,000; an older task answers 404 APIG.3093).
   */
  keep?: { requests?: number; uploads?: number; tasks?: number };
}

/** One answer of a task query: `task_status` and `task_result` ("" while pending). */
export interface TaskState {
  status: string;
  result?: string;
  /** Epoch ms: answer this until then, however often asked (a task that ends at a known time). Without it, one query. */
  until?: number;
}

/** A request as received, for counting calls in tests. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  at: number;
}

/** An accepted async-import upload: its form fields and the `file_name` part. */
export interface RecordedUpload {
  projectId: string;
  instanceId: string;
  /** The file part's filename and content type. */
  fileName: string;
  contentType: string;
  content: string;
  fields: Record<string, string>;
}

/** A running simulator. */
export interface ApigSimulator {
  /** Base URL, no trailing slash; serves APIG and IAM. */
  url: string;
  /** Stop listening and close every connection, idle keep-alive ones included. */
  close(): Promise<void>;
  /**
   * Add (or replace) a task. Each query serves the next state; the last one
   * repeats. Without `states` it walks waiting → processing → succeed
   * (→ failed when the id contains "fail").
   */
  addTask(t: {
    projectId: string;
    instanceId: string;
    taskId: string;
    taskType?: "import_api" | "export_api";
    states?: TaskState[];
  }): void;
  /** Answers consumed one per query of the task, before normal behaviour resumes. */
  script(taskId: string, answers: ScriptedAnswer[]): void;
  /** Answers consumed one per IAM token request, before normal behaviour resumes. */
  scriptIam(answers: ScriptedAnswer[]): void;
  /** The requests received, in order: the last `keep.requests`. */
  requests: RecordedRequest[];
  /** The async-import uploads accepted, in order: the last `keep.uploads`. */
  uploads: RecordedUpload[];
  /** Invalidate every IAM token issued so far. */
  expireTokens(): void;
  /** TCP connections accepted so far (to see keep-alive at work). */
  connections(): number;
}

const MAX_BODY = 10 * 1024 * 1024;

/** Send a JSON answer, unless the connection is gone or an answer was already sent. */
function reply(res: ServerResponse, r: Reply) {
  if (res.destroyed || res.headersSent) return;
  res.writeHead(r.status, { "content-type": "application/json", ...(r.headers ?? {}) });
  res.end(r.body);
}

/** Serve a scripted answer, if any; `then` runs the normal answer after a delay. */
function scripted(a: ScriptedAnswer | undefined, res: ServerResponse, then: () => Promise<void> | void): boolean {
  if (!a) return false;
  if ("reset" in a) res.socket?.destroy();
  else if ("delayMs" in a) setTimeout(() => void then(), a.delayMs);
  else if ("hold" in a) void a.hold.then(then, then);
  else {
    res.writeHead(a.status, a.headers ?? {});
    res.end(a.body ?? "");
  }
  return true;
}

/** Start the simulator on an ephemeral loopback port unless told otherwise. */
export async function startApigSimulator(opts: SimulatorOptions = {}): Promise<ApigSimulator> {
  const now = opts.now ?? Date.now;
  const host = opts.host ?? "127.0.0.1";
  const table = new TaskTable(opts);
  const iam = new Iam(opts, now);
  const routes = new ApigRoutes(table, iam, now);

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const url = new URL(req.url ?? "/", "http://simulator");
    const method = (req.method ?? "GET").toUpperCase();
    table.record({ method, path: url.pathname, headers: req.headers, at: now() });

    if (url.pathname === "/v3/auth/tokens" && method === "POST") {
      const issue = () => reply(res, iam.issueToken(body));
      if (!scripted(table.nextIamScripted(), res, issue)) issue();
      return;
    }
    const route = matchRoute(url.pathname);
    if (route === undefined) return reply(res, NO_SUCH_API);
    const normal = async () => reply(res, await routes.answer(req, url, method, body, route));
    // Scripted answers come before authentication so a test can script a 401 too.
    if (route.taskId !== undefined && method === "GET" && scripted(table.nextScripted(route.taskId), res, normal)) return;
    if (route.taskId !== undefined && opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
    await normal();
  }

  const server = createServer((req, res) => {
    const started = Date.now();
    if (opts.log) {
      const log = opts.log;
      // Path only: the query string and headers may carry credentials.
      const path = (req.url ?? "/").split("?")[0];
      res.on("close", () => log(`simulator ${req.method} ${path} -> ${res.headersSent ? res.statusCode : "reset"} ${Date.now() - started}ms`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => {
      if (size > MAX_BODY) return reply(res, { status: 413, body: errorBody("APIG.3603", "The input data is too long") });
      handle(req, res, Buffer.concat(chunks)).catch(() => reply(res, { status: 500, body: errorBody("APIG.9999", "System error") }));
    });
  });

  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 0, host, () => ok());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("simulator is not listening on TCP");
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        // After close(): no new connections, and the idle keep-alive ones go now.
        server.closeAllConnections();
      }),
    addTask: (t) => table.add(t),
    script: (taskId, answers) => table.script(taskId, answers),
    scriptIam: (answers) => table.scriptIam(answers),
    requests: table.requests,
    uploads: table.uploads,
    expireTokens: () => iam.expireAll(),
    connections: () => connections,
  };
}
