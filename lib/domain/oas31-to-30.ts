/**
 * OpenAPI 3.1 to 3.0.3, for APIG, which imports only Swagger 2.0 and OpenAPI
 * 3.0. Each 3.1 form that has a 3.0 equivalent is rewritten (PRODUCT.md
 * "The import gate"); each 3.1-only field is dropped with a warning; each
 * schema keyword 3.0 has no form for is an error finding, so nothing is
 * uploaded that APIG would read differently from what was written.
 */
import { pointerOf } from "./spec-source";

/** A finding before positions are attached: where (JSON pointer) and what. */
export interface RawFinding {
  severity: "error" | "warning";
  rule: string;
  pointer: string;
  message: string;
}

type Obj = Record<string, unknown>;
type Path = (string | number)[];

export const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** JSON Schema 2020-12 keywords that OpenAPI 3.0's schema subset has no form for. */
const UNCONVERTIBLE = [
  "prefixItems",
  "if",
  "then",
  "else",
  "dependentSchemas",
  "dependentRequired",
  "unevaluatedProperties",
  "unevaluatedItems",
  "contains",
  "minContains",
  "maxContains",
  "patternProperties",
  "propertyNames",
  "$defs",
  "$dynamicRef",
  "$dynamicAnchor",
  "$anchor",
  "contentSchema",
] as const;

const OPERATIONS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/**
 * Convert `source` (a parsed OpenAPI 3.1 document; not changed) to 3.0.3.
 * @returns the converted copy and the findings: warnings for what was
 * dropped, errors for what cannot be expressed in 3.0.
 */
export function convert31to30(source: Obj): { document: Obj; findings: RawFinding[] } {
  const doc = structuredClone(source);
  const findings: RawFinding[] = [];
  const drop = (owner: Obj, key: string, at: Path, why: string) => {
    if (!(key in owner)) return;
    delete owner[key];
    findings.push({ severity: "warning", rule: "oas31-dropped", pointer: pointerOf([...at, key]), message: `${key} dropped: ${why}` });
  };
  const c = new Converter(findings, drop);

  doc.openapi = "3.0.3";
  drop(doc, "$schema", [], "OpenAPI 3.0 has no $schema");
  drop(doc, "jsonSchemaDialect", [], "OpenAPI 3.0 has no jsonSchemaDialect");
  drop(doc, "webhooks", [], "OpenAPI 3.0 has no webhooks and APIG imports none");
  if (isObj(doc.info)) {
    drop(doc.info, "summary", ["info"], "OpenAPI 3.0 info has no summary");
    if (isObj(doc.info.license)) drop(doc.info.license, "identifier", ["info", "license"], "OpenAPI 3.0 license has no identifier");
  }
  if (!("paths" in doc)) doc.paths = {};
  if (isObj(doc.paths)) {
    for (const [p, item] of Object.entries(doc.paths)) c.pathItem(item, ["paths", p]);
  }
  const comps = doc.components;
  if (isObj(comps)) {
    if ("pathItems" in comps) {
      findings.push({ severity: "error", rule: "oas31-unconvertible", pointer: "/components/pathItems", message: "components.pathItems has no OpenAPI 3.0 form" });
    }
    eachEntry(comps.schemas, ["components", "schemas"], (s, at) => c.schema(s, at));
    eachEntry(comps.parameters, ["components", "parameters"], (p, at) => c.parameter(p, at));
    eachEntry(comps.headers, ["components", "headers"], (h, at) => c.parameter(h, at));
    eachEntry(comps.requestBodies, ["components", "requestBodies"], (b, at) => c.content(b, at));
    eachEntry(comps.responses, ["components", "responses"], (r, at) => c.response(r, at));
  }
  return { document: doc, findings };
}

function eachEntry(map: unknown, at: Path, f: (v: unknown, at: Path) => void): void {
  if (isObj(map)) for (const [k, v] of Object.entries(map)) f(v, [...at, k]);
}

function eachItem(list: unknown, at: Path, f: (v: unknown, at: Path) => void): void {
  if (Array.isArray(list)) list.forEach((v, i) => f(v, [...at, i]));
}

/** The walk over the places a 3.1 document holds schemas. */
class Converter {
  constructor(
    private readonly findings: RawFinding[],
    private readonly drop: (owner: Obj, key: string, at: Path, why: string) => void,
  ) {}

  private error(at: Path, message: string): void {
    this.findings.push({ severity: "error", rule: "oas31-unconvertible", pointer: pointerOf(at), message });
  }

  pathItem(item: unknown, at: Path): void {
    if (!isObj(item)) return;
    eachItem(item.parameters, [...at, "parameters"], (p, a) => this.parameter(p, a));
    for (const m of [...OPERATIONS, "x-apigateway-any-method"]) {
      const op = item[m];
      if (!isObj(op)) continue;
      const o = [...at, m];
      eachItem(op.parameters, [...o, "parameters"], (p, a) => this.parameter(p, a));
      if (isObj(op.requestBody)) this.content(op.requestBody, [...o, "requestBody"]);
      eachEntry(op.responses, [...o, "responses"], (r, a) => this.response(r, a));
    }
  }

  /** A parameter or header: its schema, or the schemas of its content. */
  parameter(p: unknown, at: Path): void {
    if (!isObj(p)) return;
    this.schema(p.schema, [...at, "schema"]);
    this.content(p, at);
  }

  /** Whatever has `content` (request body, response, parameter): each media type's schema. */
  content(owner: unknown, at: Path): void {
    if (!isObj(owner)) return;
    eachEntry(owner.content, [...at, "content"], (media, a) => {
      if (isObj(media)) this.schema(media.schema, [...a, "schema"]);
    });
  }

  response(r: unknown, at: Path): void {
    if (!isObj(r)) return;
    this.content(r, at);
    eachEntry(r.headers, [...at, "headers"], (h, a) => this.parameter(h, a));
  }

  schema(s: unknown, at: Path): void {
    if (!isObj(s)) return;
    this.drop(s, "$schema", at, "OpenAPI 3.0 schemas have no $schema");
    if (Array.isArray(s.type)) {
      const types = s.type.filter((t) => t !== "null");
      const nullable = types.length !== s.type.length;
      if (types.length === 1) {
        s.type = types[0];
        if (nullable) s.nullable = true;
      } else {
        this.error([...at, "type"], `type ${JSON.stringify(s.type)} has no OpenAPI 3.0 form (one type, optionally with null)`);
      }
    } else if (s.type === "null") {
      this.error([...at, "type"], 'type "null" has no OpenAPI 3.0 form');
    }
    if ("const" in s) {
      s.enum = [s.const];
      delete s.const;
    }
    if (Array.isArray(s.examples)) {
      if (s.examples.length > 0 && !("example" in s)) s.example = s.examples[0];
      delete s.examples;
    }
    for (const [exclusive, bound] of [
      ["exclusiveMinimum", "minimum"],
      ["exclusiveMaximum", "maximum"],
    ] as const) {
      const n = s[exclusive];
      if (typeof n !== "number") continue;
      const other = s[bound];
      // Both given: the stricter of the two stays, in the form 3.0 knows.
      const tighter = typeof other !== "number" || (bound === "minimum" ? n >= other : n <= other);
      if (tighter) {
        s[bound] = n;
        s[exclusive] = true;
      } else {
        delete s[exclusive];
      }
    }
    for (const kw of UNCONVERTIBLE) if (kw in s) this.error([...at, kw], `${kw} has no OpenAPI 3.0 form`);
    eachEntry(s.properties, [...at, "properties"], (p, a) => this.schema(p, a));
    for (const k of ["items", "additionalProperties", "not"] as const) this.schema(s[k], [...at, k]);
    for (const k of ["allOf", "anyOf", "oneOf"] as const) eachItem(s[k], [...at, k], (x, a) => this.schema(x, a));
  }
}
