/**
 * An APIG + IAM simulator on a real `node:http` server, for `npm start` with
 * no OTC credentials and for the tests. It answers the async-task query the
 * way ShowAsyncTaskResult documents it, creates tasks from async import and
 * export, checks X-Auth-Token (static or IAM-issued) and AK/SK signatures,
 * issues and expires IAM tokens, and can script any answer per task.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import { verifySignature } from "../../lib/otc/signer";

/** One scripted answer: raw HTTP, a delay before the normal answer, or a dropped connection. */
export type ScriptedAnswer =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { delayMs: number }
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
}

/** One answer of a task query: `task_status` and `task_result` ("" while pending). */
export interface TaskState {
  status: string;
  result?: string;
}

/** A request as received, for counting calls in tests. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  at: number;
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
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Invalidate every IAM token issued so far. */
  expireTokens(): void;
  /** TCP connections accepted so far (to see keep-alive at work). */
  connections(): number;
}

interface Task {
  projectId: string;
  instanceId: string;
  taskType: string;
  states: TaskState[];
  served: number;
}

/** Shaped like the doc's import example, plus one failure so a demo shows both lists. */
function importResult(groupId: string): string {
  return JSON.stringify({
    success: [
      { id: "ee93ce6815f04896b301452982b92222", action: "create", method: "GET", path: "/test1" },
      { id: "0a8d4c7a1d0f4b2e9c3b5f6a7e8d9c0b", action: "update", method: "POST", path: "/test2" },
    ],
    failure: [{ method: "DELETE", path: "/legacy", error_code: "APIG.3301", error_msg: "The API already exists" }],
    swagger: { id: "de1852ab6c5e4090b0bd88a02058e650", result: "Success" },
    group_id: groupId,
  });
}
const DEMO_GROUP = "9100ae30705947cc9543d37cd7fb388c";
const FAILED_RESULT = JSON.stringify({ error_code: "APIG.3201", error_msg: "The API group name already exists" });
const MAX_BODY = 10 * 1024 * 1024;

const errorBody = (code: string, msg: string) => JSON.stringify({ error_code: code, error_msg: msg });
const BAD_TOKEN = errorBody("APIG.1002", "Incorrect token or token resolution failed");
const missingParam = (name: string) =>
  errorBody("APIG.2001", `The request parameters must be specified,parameterName:${name}. Please refer to the support documentation`);

const iamRequest = z.object({
  auth: z.object({
    identity: z.object({
      methods: z.array(z.string()).refine((m) => m.includes("password")),
      password: z.object({
        user: z.object({ name: z.string(), password: z.string(), domain: z.object({ name: z.string() }) }),
      }),
    }),
    scope: z.object({ project: z.object({ id: z.string().min(1) }) }),
  }),
});

/** The documented example sends JSON; the parameter table says form data. Both are accepted. */
const importFields = z.object({
  is_create_group: z.union([z.boolean(), z.enum(["true", "false"])]).optional(),
  group_id: z.string().optional(),
  file_name: z.string().min(1),
});
const exportRequest = z.object({
  env_id: z.string().min(1),
  group_id: z.string().min(1),
  define: z.enum(["spec", "proxy", "all", "dev"]).optional(),
  type: z.enum(["json", "yaml", "yml"]).optional(),
  version: z.string().optional(),
  apis: z.array(z.string()).optional(),
});
const swaggerTitle = z.object({ info: z.object({ title: z.string() }) });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The swagger `info.title` of an imported file, JSON or YAML; "" when there is none. */
function titleOf(file: string): string {
  const json = swaggerTitle.safeParse(parseJson(file));
  if (json.success) return json.data.info.title;
  return /^\s+title:\s*["']?([^"'\n]*)["']?\s*$/m.exec(file)?.[1] ?? "";
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const hex32 = () => randomBytes(16).toString("hex");

/** Start the simulator on an ephemeral loopback port unless told otherwise. */
export async function startApigSimulator(opts: SimulatorOptions = {}): Promise<ApigSimulator> {
  const now = opts.now ?? Date.now;
  const host = opts.host ?? "127.0.0.1";
  const tasks = new Map<string, Task>();
  const scripts = new Map<string, ScriptedAnswer[]>();
  const iamScript: ScriptedAnswer[] = [];
  const issued = new Map<string, { projectId: string; expiresAt: number }>();
  const requests: RecordedRequest[] = [];
  const staticTokens = new Set(opts.auth?.tokens ?? []);
  const ttlMs = (opts.auth?.tokenTtlS ?? 86_400) * 1000;
  const steps = Math.max(1, opts.stepsPerState ?? 1);

  const walk = (last: TaskState): TaskState[] => [
    ...Array.from({ length: steps }, () => ({ status: "waiting" })),
    ...Array.from({ length: steps }, () => ({ status: "processing" })),
    last,
  ];
  const demoStates = (taskId: string): TaskState[] =>
    walk(/fail/i.test(taskId) ? { status: "failed", result: FAILED_RESULT } : { status: "succeed", result: importResult(DEMO_GROUP) });

  function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body);
  }

  /** Serve the next scripted answer, if any; `then` runs the normal answer after a delay. */
  function scripted(list: ScriptedAnswer[] | undefined, res: ServerResponse, then: () => Promise<void> | void): boolean {
    const a = list?.shift();
    if (!a) return false;
    if ("reset" in a) res.socket?.destroy();
    else if ("delayMs" in a) setTimeout(() => void then(), a.delayMs);
    else {
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? "");
    }
    return true;
  }

  function authorized(req: IncomingMessage, url: URL, body: Buffer, projectId: string): boolean {
    const token = req.headers["x-auth-token"];
    if (typeof token === "string" && token !== "") {
      if (staticTokens.has(token)) return true;
      const t = issued.get(token);
      // An IAM token is scoped to one project, as on OTC.
      return t !== undefined && t.expiresAt > now() && t.projectId === projectId;
    }
    const { accessKey, secretKey } = opts.auth ?? {};
    if (accessKey && secretKey && typeof req.headers.authorization === "string") {
      if (req.headers["x-project-id"] !== projectId) return false;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      const check = verifySignature(
        { method: req.method ?? "GET", url, headers, body },
        (ak) => (ak === accessKey ? secretKey : undefined),
        new Date(now()),
      );
      return check.ok;
    }
    return false;
  }

  function issueToken(body: Buffer, res: ServerResponse) {
    const parsed = iamRequest.safeParse(parseJson(body.toString("utf8")));
    if (!parsed.success) return reply(res, 400, errorBody("IAM.0007", "Request body is invalid"));
    const { user } = parsed.data.auth.identity.password;
    const projectId = parsed.data.auth.scope.project.id;
    const known = (opts.auth?.users ?? []).some((u) => u.name === user.name && u.password === user.password && u.domain === user.domain.name);
    if (!known) return reply(res, 401, errorBody("IAM.0002", "The username or password is wrong"));
    const token = `MII${randomBytes(32).toString("base64url")}`;
    const issuedAt = now();
    issued.set(token, { projectId, expiresAt: issuedAt + ttlMs });
    reply(
      res,
      201,
      JSON.stringify({
        token: {
          expires_at: new Date(issuedAt + ttlMs).toISOString(),
          issued_at: new Date(issuedAt).toISOString(),
          methods: ["password"],
          project: { id: projectId, name: "eu-de", domain: { name: user.domain.name } },
          user: { name: user.name, domain: { name: user.domain.name } },
        },
      }),
      { "x-subject-token": token },
    );
  }

  async function createImport(req: IncomingMessage, body: Buffer, projectId: string, instanceId: string, res: ServerResponse) {
    const type = req.headers["content-type"] ?? "";
    let fields: unknown;
    let title = "";
    if (type.startsWith("multipart/form-data")) {
      let form: FormData;
      try {
        // The WHATWG Request parses multipart bodies, so no parser of our own.
        form = await new Request("http://simulator/", { method: "POST", headers: { "content-type": type }, body }).formData();
      } catch {
        return reply(res, 400, errorBody("APIG.2012", "Invalid parameter value,parameterName:file_name"));
      }
      const file = form.get("file_name");
      const content = file === null ? "" : typeof file === "string" ? file : await file.text();
      title = titleOf(content);
      fields = {
        is_create_group: form.get("is_create_group") ?? undefined,
        group_id: form.get("group_id") ?? undefined,
        file_name: file === null ? undefined : typeof file === "string" ? file : file.name || "swagger",
      };
    } else {
      fields = parseJson(body.toString("utf8"));
      // A swagger document posted as the JSON body names itself in info.title.
      title = swaggerTitle.safeParse(fields).data?.info.title ?? "";
    }
    const f = importFields.safeParse(fields);
    if (!f.success) return reply(res, 400, missingParam("file_name"));
    const createGroup = f.data.is_create_group === undefined || f.data.is_create_group === true || f.data.is_create_group === "true";
    if (!createGroup && !f.data.group_id) return reply(res, 400, missingParam("group_id"));
    const taskId = hex32();
    const fails = /fail/i.test(title) || /fail/i.test(f.data.file_name);
    tasks.set(taskId, {
      projectId,
      instanceId,
      taskType: "import_api",
      states: walk(
        fails
          ? { status: "failed", result: FAILED_RESULT }
          : { status: "succeed", result: importResult(createGroup ? hex32() : (f.data.group_id ?? DEMO_GROUP)) },
      ),
      served: 0,
    });
    reply(res, 202, JSON.stringify({ task_id: taskId }));
  }

  function createExport(body: Buffer, projectId: string, instanceId: string, res: ServerResponse) {
    const raw = parseJson(body.toString("utf8"));
    const e = exportRequest.safeParse(raw);
    if (!e.success) {
      const name = e.error.issues[0]?.path[0];
      return reply(res, 400, missingParam(typeof name === "string" ? name : "env_id"));
    }
    const taskId = hex32();
    const version = e.data.version ?? new Date(now()).toISOString().slice(0, 19).replace("T", "-");
    const yaml = e.data.type === "yaml" || e.data.type === "yml";
    const swagger = { swagger: "2.0", info: { title: e.data.group_id, version }, paths: {} };
    tasks.set(taskId, {
      projectId,
      instanceId,
      taskType: "export_api",
      states: walk({
        status: "succeed",
        result: JSON.stringify({
          FileName: `${e.data.group_id}-RELEASE-${e.data.define ?? "spec"}-${version}`,
          FileType: yaml ? ".yaml" : ".json",
          Comment: JSON.stringify(swagger, null, "\t"),
        }),
      }),
      served: 0,
    });
    reply(res, 202, JSON.stringify({ task_id: taskId }));
  }

  function queryTask(projectId: string, instanceId: string, taskId: string, res: ServerResponse) {
    let t = tasks.get(taskId);
    if (!t && opts.autoTasks) {
      t = { projectId, instanceId, taskType: "import_api", states: demoStates(taskId), served: 0 };
      tasks.set(taskId, t);
    }
    // Another project's or gateway's task is as unknown as a missing one, like APIG.
    if (!t || t.projectId !== projectId || t.instanceId !== instanceId) {
      return reply(res, 404, errorBody("APIG.3093", `The asynchronous task ${taskId} does not exist`));
    }
    const s = t.states[Math.min(t.served++, t.states.length - 1)] ?? { status: "waiting" };
    reply(res, 200, JSON.stringify({ task_id: taskId, task_status: s.status, task_type: t.taskType, task_result: s.result ?? "" }));
  }

  const ROUTE = /^\/v2\/([^/]+)\/apigw\/instances\/([^/]+)\/(?:async-tasks\/([^/]+)|openapi\/async-(import|export))$/;

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer) {
    const url = new URL(req.url ?? "/", "http://simulator");
    const method = (req.method ?? "GET").toUpperCase();
    requests.push({ method, path: url.pathname, headers: req.headers, at: now() });

    if (url.pathname === "/v3/auth/tokens" && method === "POST") {
      if (!scripted(iamScript, res, () => issueToken(body, res))) issueToken(body, res);
      return;
    }
    const m = ROUTE.exec(url.pathname);
    const projectId = m?.[1];
    const instanceId = m?.[2];
    const taskId = m?.[3] === undefined ? undefined : safeDecode(m[3]);
    const kind = m?.[4];
    const noSuchApi = () => reply(res, 404, errorBody("APIG.0101", "The API does not exist or has not been published"));
    if (projectId === undefined || instanceId === undefined) return noSuchApi();
    const normal = async () => {
      // Authentication first, as a gateway does: a tampered method is a bad signature, not an unknown API.
      if (!authorized(req, url, body, projectId)) return reply(res, 401, BAD_TOKEN);
      const known = (taskId !== undefined && method === "GET") || (kind !== undefined && method === "POST");
      if (!known) return noSuchApi();
      if (taskId !== undefined) return queryTask(projectId, instanceId, taskId, res);
      if (kind === "import") return createImport(req, body, projectId, instanceId, res);
      return createExport(body, projectId, instanceId, res);
    };
    // Scripted answers come before authentication so a test can script a 401 too.
    if (taskId !== undefined && method === "GET" && scripted(scripts.get(taskId), res, normal)) return;
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
      if (size > MAX_BODY) return reply(res, 413, errorBody("APIG.3603", "The input data is too long"));
      handle(req, res, Buffer.concat(chunks)).catch(() => reply(res, 500, errorBody("APIG.9999", "System error")));
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
    addTask: (t) =>
      void tasks.set(t.taskId, {
        projectId: t.projectId,
        instanceId: t.instanceId,
        taskType: t.taskType ?? "import_api",
        states: t.states && t.states.length > 0 ? [...t.states] : demoStates(t.taskId),
        served: 0,
      }),
    script: (taskId, answers) => void scripts.set(taskId, [...(scripts.get(taskId) ?? []), ...answers]),
    scriptIam: (answers) => void iamScript.push(...answers),
    requests,
    expireTokens: () => issued.clear(),
    connections: () => connections,
  };
}
