// The simulator's task table: tasks and how they progress, scripted answers, demo auto-tasks and recorded requests; no HTTP here.
import { randomBytes } from "node:crypto";
import type { ApigSimulator, RecordedRequest, RecordedUpload, ScriptedAnswer, SimulatorOptions, TaskState } from "./index";
import { type ReadSpec, type SpecOperation, writeSpec } from "./spec";

interface Task {
  projectId: string;
  instanceId: string;
  taskType: string;
  states: TaskState[];
  served: number;
}

/** An APIG/IAM error body. */
export const errorBody = (code: string, msg: string) => JSON.stringify({ error_code: code, error_msg: msg });

/** `JSON.parse`, with undefined instead of an exception. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Shaped like the doc's import example. A clean import by default, so a
 * newcomer's first `--wait` exits 0; `partial` adds one failed API (the
 * outcome `partial`, exit 3).
 */
function importResult(groupId: string, partial: boolean): string {
  return JSON.stringify({
    success: [
      { id: "ee93ce6815f04896b301452982b92222", action: "create", method: "GET", path: "/test1" },
      { id: "0a8d4c7a1d0f4b2e9c3b5f6a7e8d9c0b", action: "update", method: "POST", path: "/test2" },
    ],
    failure: partial ? [{ method: "DELETE", path: "/legacy", error_code: "APIG.3301", error_msg: "The API already exists" }] : [],
    swagger: { id: "de1852ab6c5e4090b0bd88a02058e650", result: "Success" },
    group_id: groupId,
  });
}
const DEMO_GROUP = "9100ae30705947cc9543d37cd7fb388c";
const FAILED_RESULT = errorBody("APIG.3201", "The API group name already exists");

const hex32 = () => randomBytes(16).toString("hex");

/** What a task query finds: the task's type and the state it serves now. */
export interface QueryResult {
  taskType: string;
  state: TaskState;
}

/** Tasks by id, the answers scripted for them and for IAM, and every request received. */
export class TaskTable {
  /** The last `keep.requests` requests received, in order (handed out as is by `ApigSimulator.requests`). */
  readonly requests: RecordedRequest[] = [];
  /** The last `keep.uploads` async-import uploads accepted, in order. */
  readonly uploads: RecordedUpload[] = [];
  private readonly keep: Required<NonNullable<SimulatorOptions["keep"]>>;
  /** APIs imported per group, for exports to return. */
  private readonly groups = new Map<string, { title: string; operations: SpecOperation[] }>();
  private readonly tasks = new Map<string, Task>();
  private readonly scripts = new Map<string, ScriptedAnswer[]>();
  private readonly iamScript: ScriptedAnswer[] = [];
  private readonly steps: number;

  constructor(private readonly opts: Pick<SimulatorOptions, "autoTasks" | "stepsPerState" | "keep">) {
    this.steps = Math.max(1, opts.stepsPerState ?? 1);
    this.keep = { requests: 10_000, uploads: 16, tasks: 20_000, ...opts.keep };
  }

  /** Drop the oldest entries past `max` (in batches for the long request log, so recording stays O(1) amortised). */
  private static trim<T>(list: T[], max: number, slack: number): void {
    if (list.length > max + slack) list.splice(0, list.length - max);
  }

  /** Forget the oldest tasks past `keep.tasks` (a long `npm start` must not grow without bound). */
  private addTask(taskId: string, t: Task): void {
    this.tasks.delete(taskId);
    this.tasks.set(taskId, t);
    while (this.tasks.size > this.keep.tasks) {
      const oldest = this.tasks.keys().next().value!;
      this.tasks.delete(oldest);
      this.scripts.delete(oldest);
    }
  }

  /** waiting and processing for `stepsPerState` queries each, then `last`. */
  private walk(last: TaskState): TaskState[] {
    return [
      ...Array.from({ length: this.steps }, () => ({ status: "waiting" })),
      ...Array.from({ length: this.steps }, () => ({ status: "processing" })),
      last,
    ];
  }

  /**
   * A demo import: it fails when the id contains "fail", succeeds with one
   * failed API (outcome `partial`) when it contains "partial", and succeeds
   * cleanly otherwise (docs/api.md "The APIG simulator").
   */
  private demoStates(taskId: string): TaskState[] {
    if (/fail/i.test(taskId)) return this.walk({ status: "failed", result: FAILED_RESULT });
    return this.walk({ status: "succeed", result: importResult(DEMO_GROUP, /partial/i.test(taskId)) });
  }

  record(r: RecordedRequest): void {
    this.requests.push(r);
    TaskTable.trim(this.requests, this.keep.requests, Math.ceil(this.keep.requests / 10));
  }

  /** See `ApigSimulator.addTask`. */
  add(t: Parameters<ApigSimulator["addTask"]>[0]): void {
    this.addTask(t.taskId, {
      projectId: t.projectId,
      instanceId: t.instanceId,
      taskType: t.taskType ?? "import_api",
      states: t.states && t.states.length > 0 ? [...t.states] : this.demoStates(t.taskId),
      served: 0,
    });
  }

  /**
   * A new import task, its result derived from the document: one success
   * entry per operation, a failure entry for an operation whose operationId
   * contains "fail", and the whole task failed when the title or the file
   * name contains "fail". The result names a new group, or `groupId`.
   */
  createImport(i: { projectId: string; instanceId: string; spec: ReadSpec; fileName: string; createGroup: boolean; groupId?: string }): string {
    const taskId = hex32();
    const fails = /fail/i.test(i.spec.title) || /fail/i.test(i.fileName);
    const groupId = i.createGroup ? hex32() : (i.groupId ?? DEMO_GROUP);
    const ok = i.spec.operations.filter((o) => !o.fails);
    if (!fails) {
      const group = this.groups.get(groupId) ?? { title: i.spec.title, operations: [] };
      const known = new Set(group.operations.map((o) => `${o.method} ${o.path}`));
      // A loop, not push(...list): a spread of 100,000+ arguments overflows the stack.
      for (const o of ok) if (!known.has(`${o.method} ${o.path}`)) group.operations.push(o);
      this.groups.delete(groupId);
      this.groups.set(groupId, group);
      while (this.groups.size > 1_000) this.groups.delete(this.groups.keys().next().value!);
    }
    const result = JSON.stringify({
      success: ok.map((o) => ({ id: hex32(), action: "create", method: o.method, path: o.path })),
      failure: i.spec.operations
        .filter((o) => o.fails)
        .map((o) => ({ method: o.method, path: o.path, error_code: "APIG.3301", error_msg: "The API already exists" })),
      swagger: { id: hex32(), result: "Success" },
      group_id: groupId,
    });
    this.addTask(taskId, {
      projectId: i.projectId,
      instanceId: i.instanceId,
      taskType: "import_api",
      states: this.walk(fails ? { status: "failed", result: FAILED_RESULT } : { status: "succeed", result }),
      served: 0,
    });
    return taskId;
  }

  /** A new export task whose result is a document of the APIs imported into the group (none for an unknown group). */
  createExport(e: { projectId: string; instanceId: string; groupId: string; define?: string; yaml: boolean; version: string; oasVersion: string }): string {
    const taskId = hex32();
    const group = this.groups.get(e.groupId);
    const document = writeSpec({ title: group?.title || e.groupId, version: e.version, oasVersion: e.oasVersion, yaml: e.yaml }, group?.operations ?? []);
    this.addTask(taskId, {
      projectId: e.projectId,
      instanceId: e.instanceId,
      taskType: "export_api",
      states: this.walk({
        status: "succeed",
        result: JSON.stringify({
          FileName: `${e.groupId}-RELEASE-${e.define ?? "spec"}-${e.version}`,
          FileType: e.yaml ? ".yaml" : ".json",
          Comment: document,
        }),
      }),
      served: 0,
    });
    return taskId;
  }

  /** Keep an accepted upload for tests to look at. */
  recordUpload(u: RecordedUpload): void {
    this.uploads.push(u);
    TaskTable.trim(this.uploads, this.keep.uploads, 0);
  }

  /**
   * The next state of a task, or undefined when there is no such task in this
   * project and gateway. With `autoTasks`, an unknown id becomes a demo import.
   */
  query(projectId: string, instanceId: string, taskId: string, now: number): QueryResult | undefined {
    let t = this.tasks.get(taskId);
    if (!t && this.opts.autoTasks) {
      t = { projectId, instanceId, taskType: "import_api", states: this.demoStates(taskId), served: 0 };
      this.addTask(taskId, t);
    }
    // Another project's or gateway's task is as unknown as a missing one, like APIG.
    if (!t || t.projectId !== projectId || t.instanceId !== instanceId) return undefined;
    // A state with `until` holds until that time, however often it is asked; others last one query.
    let i = Math.min(t.served, t.states.length - 1);
    while (i < t.states.length - 1 && t.states[i]!.until !== undefined && now >= t.states[i]!.until!) i = ++t.served;
    const state = t.states[i] ?? { status: "waiting" };
    if (state.until === undefined) t.served++;
    return { taskType: t.taskType, state };
  }

  /** See `ApigSimulator.script`. */
  script(taskId: string, answers: ScriptedAnswer[]): void {
    this.scripts.set(taskId, [...(this.scripts.get(taskId) ?? []), ...answers]);
  }

  /** See `ApigSimulator.scriptIam`. */
  scriptIam(answers: ScriptedAnswer[]): void {
    this.iamScript.push(...answers);
  }

  /** Take the next answer scripted for a query of this task, if any. */
  nextScripted(taskId: string): ScriptedAnswer | undefined {
    return this.scripts.get(taskId)?.shift();
  }

  /** Take the next answer scripted for an IAM token request, if any. */
  nextIamScripted(): ScriptedAnswer | undefined {
    return this.iamScript.shift();
  }
}
