// The simulator's reading of an imported OpenAPI / Swagger document (JSON or YAML) and its writing of an exported one.
/*
 * YAML is read with `js-yaml` (the parser the service's import gate uses, fast
 * on documents of several MiB) and written with the `yaml` package (a
 * devDependency: the simulator never runs inside a Lambda bundle).
 */
import { load } from "js-yaml";
import { stringify } from "yaml";
import { z } from "zod";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "any"] as const;

/** One operation of a document: what APIG turns into one API. */
export interface SpecOperation {
  method: string;
  path: string;
  /** The operation's `operationId` contains "fail": the simulator reports it as not imported. */
  fails: boolean;
}

/** What the simulator keeps of an imported document. */
export interface ReadSpec {
  title: string;
  operations: SpecOperation[];
}

const document = z.object({
  swagger: z.string().optional(),
  openapi: z.string().optional(),
  info: z.object({ title: z.string() }).partial().optional(),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
});

function tryJson(text: string): unknown {
  if (!text.trimStart().startsWith("{")) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The title and operations of a Swagger 2.0 / OpenAPI 3 document, or undefined when it is none. */
export function readSpec(text: string): ReadSpec | undefined {
  let raw: unknown;
  try {
    // YAML 1.2 is a superset of JSON, but the YAML parser takes minutes over
    // a JSON document of 100,000 operations: JSON goes to JSON.parse first.
    raw = tryJson(text) ?? load(text);
  } catch {
    return undefined;
  }
  const d = document.safeParse(raw);
  if (!d.success || (d.data.swagger === undefined && d.data.openapi === undefined)) return undefined;
  const operations: SpecOperation[] = [];
  for (const [path, item] of Object.entries(d.data.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const m = method.toLowerCase();
      if (!(METHODS as readonly string[]).includes(m)) continue;
      const id = typeof op === "object" && op !== null && "operationId" in op ? String(op.operationId) : "";
      operations.push({ method: m.toUpperCase(), path, fails: /fail/i.test(id) });
    }
  }
  return { title: d.data.info?.title ?? "", operations };
}

/** An exported document of a group's APIs, as APIG's async-export returns it in `Comment`. */
export function writeSpec(
  e: { title: string; version: string; oasVersion: string; yaml: boolean },
  operations: ReadonlyArray<Pick<SpecOperation, "method" | "path">>,
): string {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    (paths[op.path] ??= {})[op.method.toLowerCase()] = { responses: { default: { description: "default response" } } };
  }
  const head = e.oasVersion === "3.0" ? { openapi: "3.0.0" } : { swagger: "2.0" };
  const doc = { ...head, info: { title: e.title, version: e.version }, paths };
  return e.yaml ? stringify(doc) : JSON.stringify(doc, null, "\t");
}
