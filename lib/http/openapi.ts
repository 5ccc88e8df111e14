/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table the
 * router serves (`router.ts`) and the zod schemas that validate its requests
 * and describe its answers: nothing about a route is written twice.
 */
import * as z from "../domain/zod";

/** What the document needs to know of one route; the router's table adds the handler. */
export interface RouteDoc {
  method: "GET" | "POST" | "DELETE";
  /** OpenAPI path template, e.g. `/tasks/{task_id}`; every `{name}` is an {@link Id}-like segment. */
  path: string;
  operationId: string;
  summary: string;
  /** False for the routes that need no API key. */
  auth: boolean;
  /** The JSON body schema (the one the router parses with). */
  body?: z.ZodMiniType;
  /** The body may be left out (an empty body parses as `{}`). */
  bodyOptional?: boolean;
  /** The query string schema (the one the router parses with). */
  query?: z.ZodMiniType;
  /** Schema of each path parameter. */
  params?: Record<string, z.ZodMiniType>;
  /** Answers by status: a description and the name of a schema in the components, if the answer has a body. */
  responses: Record<number, { description: string; schema?: string; media?: readonly string[] }>;
}

type JsonObject = Record<string, unknown>;

function jsonSchema(schema: z.ZodMiniType, io: "input" | "output"): JsonObject {
  // Refinements (SSRF checks, secret format) have no JSON Schema form and are
  // left out; the document says what the shape is, the 400 says the rest.
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as JsonObject;
  return rest;
}

/**
 * Build the document.
 * @param routes the router's table
 * @param components answer schemas by name, referred to by `responses[].schema`
 */
export function buildOpenApi(
  routes: readonly RouteDoc[],
  components: Record<string, z.ZodMiniType>,
  info: { title: string; version: string; description: string },
): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const r of routes) {
    const parameters: JsonObject[] = [];
    for (const name of r.path.match(/\{([^}]+)\}/g)?.map((p) => p.slice(1, -1)) ?? []) {
      const schema = r.params?.[name];
      parameters.push({ name, in: "path", required: true, schema: schema ? jsonSchema(schema, "input") : { type: "string" } });
    }
    if (r.query) {
      const q = jsonSchema(r.query, "input");
      const required = new Set((q.required as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries((q.properties as Record<string, JsonObject> | undefined) ?? {})) {
        parameters.push({ name, in: "query", required: required.has(name), schema });
      }
    }
    const responses: JsonObject = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = {
        description: res.description,
        ...(res.schema ? { content: { "application/json": { schema: { $ref: `#/components/schemas/${res.schema}` } } } } : {}),
        // A document, not JSON of ours: its media types, any bytes.
        ...(res.media ? { content: Object.fromEntries(res.media.map((m) => [m, { schema: {} }])) } : {}),
      };
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.auth ? {} : { security: [] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: !r.bodyOptional, content: { "application/json": { schema: jsonSchema(r.body, "input") } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).map(([name, s]) => [name, jsonSchema(s, "output")])),
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "Authorization: Bearer <api key>" } },
    },
    security: [{ apiKey: [] }],
  };
}
