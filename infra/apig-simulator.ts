/**
 * An APIG + IAM simulator on a real `node:http` server, for `npm start` with
 * no OTC credentials and for the tests. It answers the async-task query the
 * way ShowAsyncTaskResult documents it, checks X-Auth-Token (static or
 * IAM-issued) and AK/SK signatures, issues and expires IAM tokens, and can
 * script any answer per task.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { verifySignature } from "../lib/otc-signer";

/** One scripted answer: raw HTTP, a delay before the normal answer, or a dropped connection. */
export type ScriptedAnswer =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { delayMs: number }
  | { reset: true };

export interface SimulatorOptions {
  host?: string;
  port?: number;
  auth?: {
    /** Static X-Auth-Token values accepted. */
    tokens?: string[];
    accessKey?: string;
    secretKey?: string;
    users?: Array<{ domain: string; name: string; password: string }>;
    tokenTtlS?: number;
  };
  now?: () => number;
  /** Unknown task ids come into being as demo imports (for `npm start`). */
  autoTasks?: boolean;
  /** Queries a demo task stays in each of waiting and processing. */
  stepsPerState?: number;
}

export interface TaskState {
  status: string;
  result?: string;
}

export interface ApigSimulator {
  /** Base URL, no trailing slash; serves APIG and IAM. */
  url: string;
  close(): Promise<void>;
  addTask(t: {
    projectId: string;
    instanceId: string;
    taskId: string;
    taskType?: "import_api" | "export_api";
    states?: TaskState[];
  }): void;
  /** Answers consumed one per query of the task, before normal behaviour resumes. */
  script(taskId: string, answers: ScriptedAnswer[]): void;
  /** Answers consumed one per IAM token request. */
  scriptIam(answers: ScriptedAnswer[]): void;
  /** Every request received, for counting. */
  requests: Array<{ method: string; path: string; headers: IncomingHttpHeaders; at: number }>;
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

const DEMO_IMPORT = JSON.stringify({
  success: [
    { id: "ee93ce6815f04896b301452982b92222", action: "create", method: "GET", path: "/test1" },
    { id: "0a8d4c7a1d0f4b2e9c3b5f6a7e8d9c0b", action: "update", method: "POST", path: "/test2" },
  ],
  failure: [{ method: "DELETE", path: "/legacy", error_code: "APIG.3301", error_msg: "The API already exists" }],
  swagger: { id: "de1852ab6c5e4090b0bd88a02058e650", result: "Success" },
  group_id: "9100ae30705947cc9543d37cd7fb388c",
});
const DEMO_FAILURE = JSON.stringify({ error_code: "APIG.3201", error_msg: "The API group name already exists" });

const err = (code: string, msg: string) => JSON.stringify({ error_code: code, error_msg: msg });

/** Start the simulator on an ephemeral loopback port unless told otherwise. */
export async function startApigSimulator(opts: SimulatorOptions = {}): Promise<ApigSimulator> {
  const now = opts.now ?? Date.now;
  const tasks = new Map<string, Task>();
  const scripts = new Map<string, ScriptedAnswer[]>();
  const iamScript: ScriptedAnswer[] = [];
  const issued = new Map<string, { projectId: string; expiresAt: number }>();
  const requests: ApigSimulator["requests"] = [];
  const staticTokens = new Set(opts.auth?.tokens ?? []);
  const ttlMs = (opts.auth?.tokenTtlS ?? 86_400) * 1000;
  const steps = Math.max(1, opts.stepsPerState ?? 1);

  const demoStates = (taskId: string): TaskState[] => [
    ...Array.from({ length: steps }, () => ({ status: "waiting" })),
    ...Array.from({ length: steps }, () => ({ status: "processing" })),
    /fail/i.test(taskId) ? { status: "failed", result: DEMO_FAILURE } : { status: "succeed", result: DEMO_IMPORT },
  ];

  function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(body);
  }

  /** Scripted answers; returns true when one was used (or a delay was scheduled, with `then`). */
  function scripted(list: ScriptedAnswer[] | undefined, res: ServerResponse, then: () => void): boolean {
    const a = list?.shift();
    if (!a) return false;
    if ("reset" in a) res.socket?.destroy();
    else if ("delayMs" in a) setTimeout(then, a.delayMs);
    else {
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body ?? "");
    }
    return true;
  }

  function authorized(method: string, url: URL, headers: IncomingHttpHeaders, body: string, projectId: string): boolean {
    const token = headers["x-auth-token"];
    if (typeof token === "string" && token !== "") {
      if (staticTokens.has(token)) return true;
      const t = issued.get(token);
      return t !== undefined && t.expiresAt > now() && t.projectId === projectId;
    }
    if (opts.auth?.accessKey && opts.auth.secretKey && typeof headers.authorization === "string") {
      if (headers["x-project-id"] !== projectId) return false;
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) if (typeof v === "string") flat[k] = v;
      const v = verifySignature(
        { method, url, headers: flat, body },
        (ak) => (ak === opts.auth?.accessKey ? opts.auth.secretKey : undefined),
        new Date(now()),
      );
      return v.ok;
    }
    return false;
  }

  function iamToken(body: string, res: ServerResponse) {
    let projectId: unknown;
    let ok = false;
    try {
      const a = JSON.parse(body).auth;
      const u = a.identity.password.user;
      projectId = a.scope.project.id;
      ok = (opts.auth?.users ?? []).some((x) => x.name === u.name && x.password === u.password && x.domain === u.domain?.name);
    } catch {
      return reply(res, 400, err("IAM.0007", "Request body is invalid"));
    }
    if (!ok || typeof projectId !== "string") return reply(res, 401, err("IAM.0002", "The username or password is wrong"));
    const token = `MII${randomBytes(24).toString("base64url")}`;
    const issuedAt = now();
    issued.set(token, { projectId, expiresAt: issuedAt + ttlMs });
    reply(
      res,
      201,
      JSON.stringify({
        token: {
          expires_at: new Date(issuedAt + ttlMs).toISOString(),
          issued_at: new Date(issuedAt).toISOString(),
          project: { id: projectId, name: "eu-de" },
          methods: ["password"],
        },
      }),
      { "x-subject-token": token },
    );
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://simulator");
      const method = (req.method ?? "GET").toUpperCase();
      requests.push({ method, path: url.pathname, headers: req.headers, at: now() });

      if (method === "POST" && url.pathname === "/v3/auth/tokens") {
        if (!scripted(iamScript, res, () => iamToken(body, res))) iamToken(body, res);
        return;
      }
      const m = /^\/v2\/([^/]+)\/apigw\/instances\/([^/]+)\/(async-tasks\/([^/]+)|openapi\/async-(import|export))$/.exec(url.pathname);
      if (!m) return reply(res, 404, err("APIG.0101", "The API does not exist or has not been published"));
      const [, projectId, instanceId, , taskId, kind] = m as unknown as [string, string, string, string, string?, string?];
      if (!authorized(method, url, req.headers, body, projectId)) {
        return reply(res, 401, err("APIG.1002", "Incorrect token or token resolution failed"));
      }

      if (kind !== undefined) {
        if (method !== "POST") return reply(res, 405, err("APIG.2000", "method not allowed"));
        const id = randomUUID().replace(/-/g, "");
        const title = /"title"\s*:\s*"([^"]*)"/.exec(body)?.[1] ?? "";
        tasks.set(id, {
          projectId,
          instanceId,
          taskType: `${kind}_api`,
          states: demoStates(/fail/i.test(title) ? `${id}-fail` : id).map((s) =>
            s.status === "succeed" && kind === "export"
              ? { status: "succeed", result: JSON.stringify({ FileName: `export-${id}`, FileType: ".json", Comment: "{}" }) }
              : s,
          ),
          served: 0,
        });
        return reply(res, 202, JSON.stringify({ task_id: id }));
      }

      const answer = () => {
        let t = tasks.get(taskId!);
        if (!t && opts.autoTasks) {
          t = { projectId, instanceId, taskType: "import_api", states: demoStates(taskId!), served: 0 };
          tasks.set(taskId!, t);
        }
        if (!t || t.projectId !== projectId || t.instanceId !== instanceId) {
          return reply(res, 404, err("APIG.3093", `The asynchronous task ${taskId} does not exist`));
        }
        const s = t.states[Math.min(t.served++, t.states.length - 1)] ?? { status: "waiting" };
        reply(res, 200, JSON.stringify({ task_id: taskId, task_status: s.status, task_type: t.taskType, task_result: s.result ?? "" }));
      };
      if (!scripted(scripts.get(taskId!), res, answer)) answer();
    });
  });

  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
    addTask: (t) =>
      tasks.set(t.taskId, {
        projectId: t.projectId,
        instanceId: t.instanceId,
        taskType: t.taskType ?? "import_api",
        states: t.states ?? demoStates(t.taskId),
        served: 0,
      }),
    script: (taskId, answers) => scripts.set(taskId, [...(scripts.get(taskId) ?? []), ...answers]),
    scriptIam: (answers) => iamScript.push(...answers),
    requests,
    expireTokens: () => issued.clear(),
    connections: () => connections,
  };
}
