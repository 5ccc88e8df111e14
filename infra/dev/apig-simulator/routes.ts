// The simulator's APIG routes: the async-task query and async import/export, each request turned into an answer using the task table and IAM.
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import type { Iam, Reply } from "./iam";
import { readSpec } from "./spec";
import { errorBody, parseJson, type TaskTable } from "./state";

const BAD_TOKEN = errorBody("APIG.1002", "Incorrect token or token resolution failed");
const missingParam = (name: string) =>
  errorBody("APIG.2001", `The request parameters must be specified,parameterName:${name}. Please refer to the support documentation`);

/** The answer to a path or method that is no APIG API. */
export const NO_SUCH_API: Reply = { status: 404, body: errorBody("APIG.0101", "The API does not exist or has not been published") };

/**
 * The FormData fields of async-import (the parameter table); `file_name` is
 * the file part itself and is checked apart. The documented "example request"
 * shows a JSON body, but a file cannot travel in one: only multipart is taken.
 */
const flag = z.enum(["true", "false"]).optional();
const importFields = z.object({
  is_create_group: flag,
  group_id: z.string().min(1).optional(),
  extend_mode: z.enum(["merge", "override"]).optional(),
  simple_mode: flag,
  mock_mode: flag,
  api_mode: z.enum(["merge", "override"]).optional(),
});
const exportRequest = z.object({
  env_id: z.string().min(1),
  group_id: z.string().min(1),
  define: z.enum(["spec", "proxy", "all", "dev"]).optional(),
  type: z.enum(["json", "yaml", "yml"]).optional(),
  version: z.string().optional(),
  apis: z.array(z.string()).optional(),
});
const invalidParam = (name: string) => errorBody("APIG.2012", `Invalid parameter value,parameterName:${name}. Please refer to the support documentation`);

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const ROUTE = /^\/v2\/([^/]+)\/apigw\/instances\/([^/]+)\/(?:async-tasks\/([^/]+)|openapi\/async-(import|export))$/;

/** A path under an APIG instance: a task query (`taskId`) or an async import/export (`kind`). */
export interface ApigRoute {
  projectId: string;
  instanceId: string;
  taskId?: string;
  kind?: string;
}

/** The APIG route of a path, or undefined when it is none. */
export function matchRoute(pathname: string): ApigRoute | undefined {
  const m = ROUTE.exec(pathname);
  const projectId = m?.[1];
  const instanceId = m?.[2];
  if (m === null || projectId === undefined || instanceId === undefined) return undefined;
  return { projectId, instanceId, taskId: m[3] === undefined ? undefined : safeDecode(m[3]), kind: m[4] };
}

/** Answers APIG requests from the task table, after IAM's credential check. */
export class ApigRoutes {
  constructor(
    private readonly table: TaskTable,
    private readonly iam: Iam,
    private readonly now: () => number,
  ) {}

  /** The answer to a request on an APIG route (scripted answers are served before this, by the caller). */
  async answer(req: IncomingMessage, url: URL, method: string, body: Buffer, route: ApigRoute): Promise<Reply> {
    const { projectId, instanceId, taskId, kind } = route;
    // Authentication first, as a gateway does: a tampered method is a bad signature, not an unknown API.
    if (!this.iam.authorized(req, url, body, projectId)) return { status: 401, body: BAD_TOKEN };
    const known = (taskId !== undefined && method === "GET") || (kind !== undefined && method === "POST");
    if (!known) return NO_SUCH_API;
    if (taskId !== undefined) return this.queryTask(projectId, instanceId, taskId);
    if (kind === "import") return this.createImport(req, body, projectId, instanceId);
    return this.createExport(req, url, body, projectId, instanceId);
  }

  private async createImport(req: IncomingMessage, body: Buffer, projectId: string, instanceId: string): Promise<Reply> {
    const type = req.headers["content-type"] ?? "";
    if (!/^multipart\/form-data;\s*boundary=/i.test(type)) return { status: 400, body: missingParam("file_name") };
    let form: FormData;
    try {
      // The WHATWG Request parses multipart bodies, so no parser of our own.
      form = await new Request("http://simulator/", { method: "POST", headers: { "content-type": type }, body }).formData();
    } catch {
      return { status: 400, body: invalidParam("file_name") };
    }
    const file = form.get("file_name");
    // The document must come as a file part (with a filename), not a text field.
    if (file === null || typeof file === "string") return { status: 400, body: missingParam("file_name") };
    const fields: Record<string, string> = {};
    for (const [k, v] of form.entries()) if (k !== "file_name" && typeof v === "string") fields[k] = v;
    const f = importFields.strict().safeParse(fields);
    if (!f.success) {
      const issue = f.error.issues[0];
      const name = issue?.code === "unrecognized_keys" ? issue.keys[0] : issue?.path[0];
      return { status: 400, body: invalidParam(String(name ?? "form")) };
    }
    const createGroup = f.data.is_create_group !== "false";
    if (!createGroup && !f.data.group_id) return { status: 400, body: missingParam("group_id") };
    const content = await file.text();
    const spec = readSpec(content);
    if (spec === undefined) return { status: 400, body: invalidParam("file_name") };
    this.table.recordUpload({ projectId, instanceId, fileName: file.name, contentType: file.type, content, fields });
    const taskId = this.table.createImport({ projectId, instanceId, spec, fileName: file.name, createGroup, groupId: f.data.group_id });
    return { status: 202, body: JSON.stringify({ task_id: taskId }) };
  }

  private createExport(req: IncomingMessage, url: URL, body: Buffer, projectId: string, instanceId: string): Reply {
    if (!/^application\/json/i.test(req.headers["content-type"] ?? "")) return { status: 400, body: missingParam("env_id") };
    const oas = url.searchParams.get("oas_version");
    if (oas !== null && oas !== "2.0" && oas !== "3.0") return { status: 400, body: invalidParam("oas_version") };
    const raw = parseJson(body.toString("utf8"));
    const e = exportRequest.safeParse(raw);
    if (!e.success) {
      const name = e.error.issues[0]?.path[0];
      return { status: 400, body: missingParam(typeof name === "string" ? name : "env_id") };
    }
    const version = e.data.version ?? new Date(this.now()).toISOString().slice(0, 19).replace("T", "-");
    const taskId = this.table.createExport({
      projectId,
      instanceId,
      groupId: e.data.group_id,
      define: e.data.define,
      yaml: e.data.type === "yaml" || e.data.type === "yml",
      version,
      oasVersion: oas ?? "2.0",
    });
    return { status: 202, body: JSON.stringify({ task_id: taskId }) };
  }

  private queryTask(projectId: string, instanceId: string, taskId: string): Reply {
    const found = this.table.query(projectId, instanceId, taskId, this.now());
    if (!found) return { status: 404, body: errorBody("APIG.3093", `The asynchronous task ${taskId} does not exist`) };
    const s = found.state;
    return {
      status: 200,
      body: JSON.stringify({ task_id: taskId, task_status: s.status, task_type: found.taskType, task_result: s.result ?? "" }),
    };
  }
}
