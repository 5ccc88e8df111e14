/**
 * APIG's import rules (`spec/otc/import-rules/`) over a Swagger 2.0 or
 * OpenAPI 3.0 document: what makes an import fail or lose APIs is an error,
 * what APIG silently drops or renames is a warning.
 */
import { isObj, type RawFinding } from "./oas31-to-30";
import { pointerOf } from "./spec-source";

type Obj = Record<string, unknown>;

/** The HTTP methods an OpenAPI path item holds, and APIG's own "any method". */
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "x-apigateway-any-method"] as const;

/** The extensions APIG documents (`spec/otc/import-rules/extended_definition/`). */
export const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  "x-apigateway-access-control",
  "x-apigateway-access-controls",
  "x-apigateway-any-method",
  "x-apigateway-auth-opt",
  "x-apigateway-auth-type",
  "x-apigateway-backend",
  "x-apigateway-backend-policies",
  "x-apigateway-cors",
  "x-apigateway-is-send-fg-body-base64",
  "x-apigateway-match-mode",
  "x-apigateway-pass-through",
  "x-apigateway-plugins",
  "x-apigateway-ratelimit",
  "x-apigateway-ratelimits",
  "x-apigateway-request-type",
  "x-apigateway-response",
  "x-apigateway-responses",
  "x-apigateway-result-failure-sample",
  "x-apigateway-result-normal-sample",
]);

/** Parameter types APIG keeps (Table 2 of restrictions_and_compatibility); anything else it drops. */
const KEPT_PARAMETER_TYPES = new Set(["string", "number", "integer"]);

/** An API group name: 3 to 64 letters, digits or underscores, starting with a letter. */
export const GROUP_NAME = /^[A-Za-z][A-Za-z0-9_]{2,63}$/;

/** One operation of the document: an API once imported. */
export interface Operation {
  method: string;
  path: string;
  pointer: string;
}

/** The operations of a document, in document order. */
export function operationsOf(doc: Obj): Operation[] {
  const ops: Operation[] = [];
  if (!isObj(doc.paths)) return ops;
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!isObj(item)) continue;
    for (const m of METHODS) {
      if (isObj(item[m])) ops.push({ method: m === "x-apigateway-any-method" ? "ANY" : m.toUpperCase(), path, pointer: pointerOf(["paths", path, m]) });
    }
  }
  return ops;
}

/**
 * The findings of APIG's import rules on a 2.0 or 3.0 document.
 * @param newGroup the import creates a group, so `info.title` becomes its name
 */
export function checkImportRules(doc: Obj, opts: { swagger2: boolean; newGroup: boolean }): RawFinding[] {
  const out: RawFinding[] = [];
  const add = (severity: RawFinding["severity"], rule: string, at: (string | number)[], message: string) =>
    out.push({ severity, rule, pointer: pointerOf(at), message });

  if (opts.newGroup) {
    const title = isObj(doc.info) ? doc.info.title : undefined;
    if (typeof title !== "string" || !GROUP_NAME.test(title)) {
      add("error", "group-name", isObj(doc.info) && "title" in doc.info ? ["info", "title"] : ["info"],
        `info.title ${JSON.stringify(title ?? null)} names the new API group: it must be 3 to 64 letters, digits or underscores, starting with a letter`);
    }
  }
  for (const key of ["consumes", "produces"]) {
    if (key in doc) add("warning", "consumes-produces", [key], `APIG ignores ${key}`);
  }

  const basePath = opts.swagger2 && typeof doc.basePath === "string" ? doc.basePath : "";
  const seen = new Map<string, string>();
  for (const op of operationsOf(doc)) {
    const item = (doc.paths as Obj)[op.path] as Obj;
    const methodKey = op.method === "ANY" ? "x-apigateway-any-method" : op.method.toLowerCase();
    const operation = item[methodKey] as Obj;
    const at = ["paths", op.path, methodKey];

    for (const segment of op.path.split("/")) {
      if ((segment.includes("{") || segment.includes("}")) && !/^\{[^{}]+\}$/.test(segment)) {
        add("error", "partial-segment-template", ["paths", op.path],
          `path segment "${segment}" mixes text and a template; APIG's frontend paths take only whole-segment templates like {id}`);
        break;
      }
    }
    const route = `${op.method} ${normalizedPath(basePath, op.path)}`;
    const first = seen.get(route);
    if (first !== undefined) {
      add("error", "duplicate-operation", at, `${op.method} ${basePath}${op.path} is the same API as ${first} once basePath is merged`);
    } else {
      seen.set(route, `${op.method} ${basePath}${op.path}`);
    }
    if (typeof operation.operationId !== "string" || operation.operationId === "") {
      add("warning", "missing-operation-id", at, "no operationId: APIG names the API itself");
    }
    for (const key of ["consumes", "produces"]) {
      if (key in operation) add("warning", "consumes-produces", [...at, key], `APIG ignores ${key}`);
    }
    const params: [unknown, (string | number)[]][] = [];
    if (Array.isArray(item.parameters)) item.parameters.forEach((p, i) => params.push([p, ["paths", op.path, "parameters", i]]));
    if (Array.isArray(operation.parameters)) operation.parameters.forEach((p, i) => params.push([p, [...at, "parameters", i]]));
    for (const [raw, pAt] of params) checkParameter(doc, raw, pAt, add);
  }
  findUnknownExtensions(doc, [], add);
  return out;
}

/** The path APIG registers: basePath merged, template names and trailing slashes not telling two APIs apart. */
function normalizedPath(basePath: string, path: string): string {
  const joined = `${basePath.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`.replace(/\/{2,}/g, "/");
  return (joined.length > 1 ? joined.replace(/\/+$/, "") : joined).replace(/\{[^{}]*\}/g, "{}");
}

type Add = (severity: RawFinding["severity"], rule: string, at: (string | number)[], message: string) => void;

function checkParameter(doc: Obj, raw: unknown, at: (string | number)[], add: Add): void {
  const p = resolveRef(doc, raw);
  if (!isObj(p)) return;
  const name = typeof p.name === "string" ? p.name : "?";
  if (p.in === "formData" || p.in === "body") {
    add("error", "parameter-location", [...at, "in"], `parameter ${name} is in ${String(p.in)}; APIG does not import formData or body parameters`);
    return;
  }
  const schema = resolveRef(doc, p.schema);
  const type = "type" in p ? p.type : isObj(schema) ? schema.type : undefined;
  if (typeof type === "string" && !KEPT_PARAMETER_TYPES.has(type)) {
    add("warning", "parameter-type", [...at, ...("type" in p ? ["type"] : ["schema", "type"])],
      `parameter ${name} is of type ${type}; APIG keeps only string, number and integer parameters and drops this type`);
  }
}

/** A local `$ref` (`#/...`) resolved once; anything else as it is. */
function resolveRef(doc: Obj, v: unknown): unknown {
  if (!isObj(v) || typeof v.$ref !== "string" || !v.$ref.startsWith("#/")) return v;
  let node: unknown = doc;
  for (const seg of v.$ref.slice(2).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))) {
    if (!isObj(node)) return undefined;
    node = node[seg];
  }
  return node;
}

/** Every `x-apigateway-*` key APIG does not document, wherever it is. */
function findUnknownExtensions(v: unknown, at: (string | number)[], add: Add): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => findUnknownExtensions(x, [...at, i], add));
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith("x-apigateway-") && !KNOWN_EXTENSIONS.has(k)) {
        add("warning", "unknown-extension", [...at, k], `${k} is not an extension APIG documents; it is ignored`);
      }
      if (k !== "example" && k !== "examples") findUnknownExtensions(x, [...at, k], add);
    }
  }
}
