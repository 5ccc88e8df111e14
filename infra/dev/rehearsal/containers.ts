/**
 * Lambda's execution model for the rehearsal: per function a pool of
 * containers (one Node process each, runtime-emulator.mjs), one invocation
 * at a time per container. An invocation takes an idle container (warm) or
 * starts one (cold: the init phase loads the handler); parallel invocations
 * get separate containers, up to the function's reserved concurrency
 * (beyond it a synchronous call is throttled, an event waits as Lambda's
 * queue would). The timeout is enforced (SIGKILL, the container is gone),
 * and a container is frozen (SIGSTOP) between invocations, as Lambda does.
 * Billed duration is init + handler time, rounded up to the millisecond.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { FunctionSpec } from "./template";
import { lambdaHeapFlags } from "../lambda-heap";

export interface Invocation {
  fn: string;
  kind: "sync" | "event";
  container: number;
  cold: boolean;
  ok: boolean;
  timedOut: boolean;
  throttled: boolean;
  // The handler's answer is untyped JSON.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  value?: any;
  error?: { errorType: string; errorMessage: string };
  initMs: number;
  durationMs: number;
  billedMs: number;
  gbSeconds: number;
  maxRssKb: number;
  startedAt: number;
}

export interface LogLine {
  fn: string;
  container: number;
  text: string;
}

interface Container {
  id: number;
  fn: FunctionSpec;
  child: ChildProcess;
  busy: boolean;
  started: Promise<void>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onMessage?: (m: any) => void;
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface LambdaServiceOptions {
  functions: FunctionSpec[];
  /** The unzipped bundle of a function (its LAMBDA_TASK_ROOT). */
  taskRoot: (fn: FunctionSpec) => string;
  /** The whole environment of a container of `fn` (template + Lambda's own + the rehearsal's endpoints). */
  environment: (fn: FunctionSpec, container: number) => Record<string, string>;
  /** A connection beyond loopback was refused in a container of `fn`. */
  onEgress: (fn: string, host: string, port: number) => void;
  /** Every line a container writes (stdout and stderr). */
  onLog?: (line: LogLine) => void;
}

const EMULATOR = join(import.meta.dirname, "runtime-emulator.mjs");

export class LambdaService {
  readonly invocations: Invocation[] = [];
  readonly logs: LogLine[] = [];
  private readonly pools = new Map<string, Container[]>();
  private readonly waiting = new Map<string, Array<() => void>>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly o: LambdaServiceOptions) {}

  spec(name: string): FunctionSpec | undefined {
    return this.o.functions.find((f) => f.name === name || f.arn === name || f.logicalId === name);
  }

  /** Run one invocation of `name` (a function name or ARN) with `event`; resolves when it ends, whatever the outcome. */
  async invoke(name: string, event: unknown, kind: "sync" | "event" = "sync"): Promise<Invocation> {
    const fn = this.spec(name);
    if (!fn) throw new Error(`no function ${name} in the template`);
    const startedAt = Date.now();
    let container = this.idle(fn);
    const cold = container === undefined;
    if (!container) {
      const pool = this.pools.get(fn.name) ?? [];
      if (fn.reservedConcurrency !== null && pool.length >= fn.reservedConcurrency) {
        if (kind === "sync") return this.record({ fn: fn.name, kind, container: 0, cold: false, ok: false, timedOut: false, throttled: true, error: { errorType: "TooManyRequestsException", errorMessage: "Rate Exceeded." }, initMs: 0, durationMs: 0, billedMs: 0, gbSeconds: 0, maxRssKb: 0, startedAt });
        // An event waits in Lambda's queue until a container is free.
        await new Promise<void>((ok) => (this.waiting.get(fn.name) ?? this.waiting.set(fn.name, []).get(fn.name)!).push(ok));
        return this.invoke(name, event, kind);
      }
      container = this.start(fn);
    }
    container.busy = true;
    try {
      return this.record(await this.run(container, event, kind, cold, startedAt));
    } finally {
      container.busy = false;
      this.waiting.get(fn.name)?.shift()?.();
    }
  }

  /** Kill every container. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) {
      for (const c of pool) {
        c.child.kill("SIGCONT");
        c.child.kill("SIGKILL");
      }
    }
    this.pools.clear();
  }

  private record(i: Invocation): Invocation {
    this.invocations.push(i);
    return i;
  }

  private idle(fn: FunctionSpec): Container | undefined {
    return (this.pools.get(fn.name) ?? []).find((c) => !c.busy);
  }

  private start(fn: FunctionSpec): Container {
    const id = this.nextId++;
    const child = fork(EMULATOR, [], {
      cwd: this.o.taskRoot(fn),
      env: this.o.environment(fn, id),
      // Lambda sizes the Node heap from the memory setting.
      execArgv: lambdaHeapFlags(fn.memoryMb),
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      // Its own process group, so nothing of it outlives the rehearsal.
      detached: false,
    });
    const c: Container = { id, fn, child, busy: false, started: Promise.resolve() };
    c.started = new Promise<void>((ok, fail) => {
      child.once("message", () => ok());
      child.once("error", fail);
    });
    child.on("message", (m) => c.onMessage?.(m));
    child.on("exit", (code, signal) => {
      this.remove(c);
      c.onExit?.(code, signal);
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = "";
      stream.on("data", (d: Buffer) => {
        const parts = (rest + d.toString("utf8")).split("\n");
        rest = parts.pop()!;
        for (const text of parts) {
          if (!text.trim()) continue;
          const line = { fn: fn.name, container: id, text };
          this.logs.push(line);
          this.o.onLog?.(line);
        }
      });
    }
    const pool = this.pools.get(fn.name) ?? [];
    pool.push(c);
    this.pools.set(fn.name, pool);
    return c;
  }

  private remove(c: Container) {
    const pool = this.pools.get(c.fn.name);
    if (pool) this.pools.set(c.fn.name, pool.filter((x) => x !== c));
  }

  private async run(c: Container, event: unknown, kind: "sync" | "event", cold: boolean, startedAt: number): Promise<Invocation> {
    await c.started;
    const fn = c.fn;
    const id = randomUUID();
    const timeoutMs = fn.timeoutS * 1000;
    const deadline = Date.now() + timeoutMs;
    const base = { fn: fn.name, kind, container: c.id, cold, startedAt, throttled: false };
    const billing = (initMs: number, durationMs: number) => {
      const billedMs = Math.ceil(initMs + durationMs);
      return { initMs, durationMs, billedMs, gbSeconds: (fn.memoryMb / 1024) * (billedMs / 1000) };
    };
    return new Promise<Invocation>((resolve) => {
      const t0 = performance.now();
      const timer = setTimeout(() => {
        // Lambda stops the invocation at the timeout and discards the sandbox.
        c.onExit = undefined;
        c.child.kill("SIGCONT");
        c.child.kill("SIGKILL");
        this.remove(c);
        resolve({ ...base, ok: false, timedOut: true, error: { errorType: "Sandbox.Timedout", errorMessage: `Task timed out after ${fn.timeoutS}.00 seconds` }, ...billing(0, timeoutMs), maxRssKb: 0 });
      }, timeoutMs);
      c.onExit = (code, signal) => {
        clearTimeout(timer);
        resolve({ ...base, ok: false, timedOut: false, error: { errorType: "Runtime.ExitError", errorMessage: `exited (code ${code}, signal ${signal})` }, ...billing(0, performance.now() - t0), maxRssKb: 0 });
      };
      c.onMessage = (m) => {
        if (m?.type === "egress") return this.o.onEgress(fn.name, m.host, m.port);
        if (m?.type !== "result" || m.id !== id) return;
        clearTimeout(timer);
        c.onExit = undefined;
        c.onMessage = (later) => later?.type === "egress" && this.o.onEgress(fn.name, later.host, later.port);
        // Frozen until the next invocation, as Lambda freezes an idle sandbox.
        if (!this.closed) c.child.kill("SIGSTOP");
        resolve({ ...base, ok: m.ok, timedOut: false, ...(m.ok ? { value: m.value } : { error: m.error }), ...billing(m.initMs, m.durationMs), maxRssKb: m.maxRssKb });
      };
      c.child.kill("SIGCONT");
      c.child.send({ type: "invoke", id, requestId: id, functionArn: fn.arn, event, deadline });
    });
  }
}
