// The simulator's APIG routes: the async-task query and async import/export, each request turned into an answer using the task table and IAM.
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import type { Iam, Reply } from "./iam";
import { errorBody, parseJson, type TaskTable } from "./state";

const BAD_TOKEN = errorBody("APIG.1002", "Incorrect token or token resolution failed");
const missingParam = (name: string) =>
  errorBody("APIG.2001", `The request parameters must be specified,parameterName:${name}. Please refer to the support documentation`);

/** The answer to a path or method that is no APIG API. */
export const NO_SUCH_API: Reply = { status: 404, body: errorBody("APIG.0101", "The API does not exist or has not been published") };

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
    return this.createExport(body, projectId, instanceId);
  }

  private async createImport(req: IncomingMessage, body: Buffer, projectId: string, instanceId: string): Promise<Reply> {
    const type = req.headers["content-type"] ?? "";
    let fields: unknown;
    let title = "";
    if (type.startsWith("multipart/form-data")) {
      let form: FormData;
      try {
        // The WHATWG Request parses multipart bodies, so no parser of our own.
        form = await new Request("http://simulator/", { method: "POST", headers: { "content-type": type }, body }).formData();
      } catch {
        return { status: 400, body: errorBody("APIG.2012", "Invalid parameter value,parameterName:file_name") };
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
    if (!f.success) return { status: 400, body: missingParam("file_name") };
    const createGroup = f.data.is_create_group === undefined || f.data.is_create_group === true || f.data.is_create_group === "true";
    if (!createGroup && !f.data.group_id) return { status: 400, body: missingParam("group_id") };
    const taskId = this.table.createImport({ projectId, instanceId, title, fileName: f.data.file_name, createGroup, groupId: f.data.group_id });
    return { status: 202, body: JSON.stringify({ task_id: taskId }) };
  }

  private createExport(body: Buffer, projectId: string, instanceId: string): Reply {
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
    });
    return { status: 202, body: JSON.stringify({ task_id: taskId }) };
  }

  private queryTask(projectId: string, instanceId: string, taskId: string): Reply {
    const found = this.table.query(projectId, instanceId, taskId);
    if (!found) return { status: 404, body: errorBody("APIG.3093", `The asynchronous task ${taskId} does not exist`) };
    const s = found.state;
    return {
      status: 200,
      body: JSON.stringify({ task_id: taskId, task_status: s.status, task_type: found.taskType, task_result: s.result ?? "" }),
    };
  }
}
