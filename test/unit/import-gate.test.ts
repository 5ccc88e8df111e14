import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkImportSpec, findingLine } from "../../lib/domain/import-check";
import type { ImportFinding } from "../../lib/domain/import-finding";

const existing = { newGroup: false };

/** A clean OpenAPI 3.0 document with `paths` spliced in (YAML, two-space indent). */
const oas30 = (paths: string, head = "") => `openapi: 3.0.1
info:
  title: Pets_API
  version: "1"
${head}paths:
${paths}`;

const swagger2 = (paths: string, head = "") => `swagger: "2.0"
info:
  title: Pets_API
  version: "1"
${head}paths:
${paths}`;

const only = (findings: ImportFinding[], rule: string) => findings.filter((f) => f.rule === rule);

describe("the import gate: each rule, with the line and column it names", () => {
  it("a clean 3.0 document passes, is uploaded as written, and counts its APIs", () => {
    const text = oas30(`  /pets:
    get: {operationId: listPets, responses: {"200": {description: ok}}}
    post: {operationId: addPet, responses: {"201": {description: ok}}}
`);
    const r = checkImportSpec(text, { newGroup: true });
    expect(r.check).toEqual({ ok: true, version: "3.0.1", converted_from: null, apis: 2, findings: [] });
    expect(r.upload).toBe(text);
  });

  it("parse-error: a YAML document that does not parse names its line and column", () => {
    const r = checkImportSpec("openapi: 3.0.0\ninfo:\n  title: [unclosed\npaths: {}\n", existing);
    expect(r.check.ok).toBe(false);
    expect(r.upload).toBeNull();
    expect(r.check.findings).toHaveLength(1);
    expect(r.check.findings[0]).toMatchObject({ severity: "error", rule: "parse-error", line: 4 });
  });

  it("parse-error: JSON is strict JSON (a trailing comma is an error at its place)", () => {
    const r = checkImportSpec('{\n  "openapi": "3.0.0",\n  "paths": {},\n}\n', existing);
    expect(r.check.findings[0]).toMatchObject({ rule: "parse-error", line: 4, column: 1 });
  });

  it("parse-error: duplicate keys in YAML", () => {
    const r = checkImportSpec("openapi: 3.0.0\npaths: {}\npaths: {}\n", existing);
    expect(r.check.findings[0]).toMatchObject({ rule: "parse-error", line: 3 });
  });

  it("unsupported-version: neither Swagger 2.0 nor OpenAPI 3.0/3.1", () => {
    const r = checkImportSpec("swagger: '1.2'\npaths: {}\n", existing);
    expect(r.check.findings).toEqual([expect.objectContaining({ rule: "unsupported-version", pointer: "/swagger", line: 1, column: 1 })]);
    expect(checkImportSpec("paths: {}\n", existing).check.findings[0]?.rule).toBe("unsupported-version");
  });

  it("parameter-location: formData and body parameters (Swagger 2.0) are errors at their `in`", () => {
    const text = swagger2(`  /pets:
    post:
      operationId: addPet
      parameters:
        - {name: pet, in: body, schema: {type: object}}
        - name: photo
          in: formData
          type: file
      responses: {"200": {description: ok}}
`);
    const f = only(checkImportSpec(text, existing).check.findings, "parameter-location");
    expect(f.map((x) => [x.severity, x.pointer, x.line, x.column])).toEqual([
      ["error", "/paths/~1pets/post/parameters/0/in", 10, 23],
      ["error", "/paths/~1pets/post/parameters/1/in", 12, 11],
    ]);
  });

  it("partial-segment-template: /users/prefix-{id} is an error at the path", () => {
    const text = oas30(`  /users/prefix-{id}:
    get: {operationId: a, responses: {}}
  /users/{id}-suffix/x:
    get: {operationId: b, responses: {}}
  /users/{proxy+}:
    get: {operationId: c, responses: {}}
`);
    const f = only(checkImportSpec(text, existing).check.findings, "partial-segment-template");
    expect(f.map((x) => [x.pointer, x.line, x.column])).toEqual([
      ["/paths/~1users~1prefix-{id}", 6, 3],
      ["/paths/~1users~1{id}-suffix~1x", 8, 3],
    ]);
  });

  it("duplicate-operation: the same method and path once basePath is merged", () => {
    const text = swagger2(
      `  /pets:
    get: {operationId: a, responses: {}}
  /pets/:
    get: {operationId: b, responses: {}}
  /pets/{id}:
    get: {operationId: c, responses: {}}
  /pets/{petId}:
    get: {operationId: d, responses: {}}
    put: {operationId: e, responses: {}}
`,
      "basePath: /v1\n",
    );
    const f = only(checkImportSpec(text, existing).check.findings, "duplicate-operation");
    expect(f.map((x) => [x.pointer, x.line])).toEqual([
      ["/paths/~1pets~1/get", 10],
      ["/paths/~1pets~1{petId}/get", 14],
    ]);
    expect(f[0]?.message).toContain("GET /v1/pets/");
  });

  it("group-name: only with a new group, info.title must be 3-64 letters, digits, underscores, starting with a letter", () => {
    const paths = "  /a:\n    get: {operationId: a, responses: {}}\n";
    for (const bad of ["Pets API", "1pets", "ab", "x".repeat(65)]) {
      const text = oas30(paths).replace("title: Pets_API", `title: "${bad}"`);
      expect(only(checkImportSpec(text, { newGroup: true }).check.findings, "group-name"), bad).toEqual([
        expect.objectContaining({ severity: "error", pointer: "/info/title", line: 3, column: 3 }),
      ]);
      expect(checkImportSpec(text, existing).check.ok, `${bad} into an existing group`).toBe(true);
    }
    const noTitle = checkImportSpec("openapi: 3.0.0\ninfo: {version: '1'}\npaths: {}\n", { newGroup: true });
    expect(only(noTitle.check.findings, "group-name")[0]?.pointer).toBe("/info");
  });

  it("consumes-produces: a warning, at the document and at the operation", () => {
    const text = swagger2(
      `  /a:
    get:
      operationId: a
      produces: [application/json]
      responses: {}
`,
      "consumes: [application/json]\n",
    );
    const r = checkImportSpec(text, existing);
    expect(r.check.ok).toBe(true);
    expect(only(r.check.findings, "consumes-produces").map((x) => [x.severity, x.pointer, x.line])).toEqual([
      ["warning", "/consumes", 5],
      ["warning", "/paths/~1a/get/produces", 10],
    ]);
  });

  it("parameter-type: APIG drops parameters that are not string, number or integer (2.0 type and 3.0 schema, $ref resolved)", () => {
    const text = oas30(
      `  /a:
    parameters:
      - {name: flag, in: query, schema: {type: boolean}}
    get:
      operationId: a
      parameters:
        - {name: n, in: query, schema: {type: integer}}
        - $ref: "#/components/parameters/Tags"
      responses: {}
`,
    ) + "components:\n  parameters:\n    Tags: {name: tags, in: query, schema: {type: array, items: {type: string}}}\n";
    const f = only(checkImportSpec(text, existing).check.findings, "parameter-type");
    expect(f.map((x) => [x.severity, x.pointer])).toEqual([
      ["warning", "/paths/~1a/parameters/0/schema/type"],
      ["warning", "/paths/~1a/get/parameters/1/schema/type"],
    ]);
    expect(f[1]?.message).toContain("tags is of type array");
  });

  it("missing-operation-id: a warning at the operation", () => {
    const r = checkImportSpec(oas30("  /a:\n    get: {responses: {}}\n"), existing);
    expect(r.check.findings).toEqual([expect.objectContaining({ severity: "warning", rule: "missing-operation-id", pointer: "/paths/~1a/get", line: 7, column: 5 })]);
  });

  it("unknown-extension: an x-apigateway-* APIG does not document; known ones and examples pass", () => {
    const text = oas30(`  /a:
    get:
      operationId: a
      x-apigateway-backend: {type: HTTP}
      x-apigateway-request-type: public
      x-apigateway-backned: {type: HTTP}
      responses: {"200": {description: ok, content: {application/json: {example: {x-apigateway-free: 1}}}}}
`);
    const f = only(checkImportSpec(text, existing).check.findings, "unknown-extension");
    expect(f.map((x) => [x.pointer, x.line, x.column])).toEqual([["/paths/~1a/get/x-apigateway-backned", 11, 7]]);
  });

  it("positions in JSON (tab-indented) point at the key", () => {
    const text = '{\n\t"swagger": "2.0",\n\t"info": {"title": "Pets_API", "version": "1"},\n\t"paths": {\n\t\t"/a": {\n\t\t\t"get": {"responses": {}}\n\t\t}\n\t}\n}\n';
    const r = checkImportSpec(text, existing);
    expect(r.check.findings).toEqual([expect.objectContaining({ rule: "missing-operation-id", line: 6, column: 4 })]);
    expect(findingLine("spec.json", r.check.findings[0]!)).toBe("spec.json:6:4 warning missing-operation-id no operationId: APIG names the API itself");
  });
});

describe("OpenAPI 3.1 to 3.0.3, each conversion", () => {
  const convert = (schemas: string, head = "") => {
    const text = `openapi: 3.1.0\n${head}info:\n  title: Pets_API\n  version: "1"\npaths: {}\ncomponents:\n  schemas:\n${schemas}`;
    const r = checkImportSpec(text, existing);
    return { r, doc: r.upload === null ? null : (parse(r.upload) as Record<string, any>) };
  };

  it("the converted document is what is uploaded, and the version it came from is recorded", () => {
    const { r, doc } = convert("    A: {type: string}\n");
    expect(r.check).toMatchObject({ ok: true, version: "3.0.3", converted_from: "3.1.0", findings: [] });
    expect(doc?.openapi).toBe("3.0.3");
  });

  it("type arrays with null become nullable; a one-type array becomes its type", () => {
    const { doc } = convert('    A: {type: [string, "null"]}\n    B: {type: [integer]}\n    C: {type: object, properties: {x: {type: ["null", number]}}}\n');
    expect(doc?.components.schemas).toEqual({
      A: { type: "string", nullable: true },
      B: { type: "integer" },
      C: { type: "object", properties: { x: { type: "number", nullable: true } } },
    });
  });

  it("const becomes a one-value enum", () => {
    expect(convert("    A: {const: cat}\n").doc?.components.schemas.A).toEqual({ enum: ["cat"] });
  });

  it("an examples array becomes example (its first value)", () => {
    expect(convert("    A: {type: string, examples: [a, b]}\n").doc?.components.schemas.A).toEqual({ type: "string", example: "a" });
  });

  it("numeric exclusiveMinimum / exclusiveMaximum become the boolean form", () => {
    expect(convert("    A: {type: number, exclusiveMinimum: 0, exclusiveMaximum: 10}\n").doc?.components.schemas.A).toEqual({
      type: "number",
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 10,
      exclusiveMaximum: true,
    });
  });

  it("conversions reach schemas in parameters, request bodies, responses and headers", () => {
    const text = `openapi: 3.1.0
info: {title: Pets_API, version: "1"}
paths:
  /a:
    post:
      operationId: a
      parameters: [{name: q, in: query, schema: {type: [string, "null"]}}]
      requestBody: {content: {application/json: {schema: {items: {const: 1}}}}}
      responses:
        "200":
          description: ok
          headers: {X-N: {schema: {examples: [1]}}}
          content: {application/json: {schema: {allOf: [{exclusiveMaximum: 5}]}}}
`;
    const r = checkImportSpec(text, existing);
    const op = (parse(r.upload!) as any).paths["/a"].post;
    expect(op.parameters[0].schema).toEqual({ type: "string", nullable: true });
    expect(op.requestBody.content["application/json"].schema).toEqual({ items: { enum: [1] } });
    expect(op.responses["200"].headers["X-N"].schema).toEqual({ example: 1 });
    expect(op.responses["200"].content["application/json"].schema).toEqual({ allOf: [{ maximum: 5, exclusiveMaximum: true }] });
  });

  it("$schema, jsonSchemaDialect, webhooks and license.identifier are dropped with a warning each", () => {
    const text = `openapi: 3.1.0
$schema: https://spec.openapis.org/oas/3.1/schema/2022-10-07
jsonSchemaDialect: https://json-schema.org/draft/2020-12/schema
info:
  title: Pets_API
  version: "1"
  license: {name: Apache-2.0, identifier: Apache-2.0}
webhooks:
  newPet: {post: {responses: {"200": {description: ok}}}}
paths: {}
`;
    const r = checkImportSpec(text, existing);
    expect(r.check.ok).toBe(true);
    expect(r.check.findings.map((f) => [f.severity, f.rule, f.pointer, f.line])).toEqual([
      ["warning", "oas31-dropped", "/$schema", 2],
      ["warning", "oas31-dropped", "/jsonSchemaDialect", 3],
      ["warning", "oas31-dropped", "/info/license/identifier", 7],
      ["warning", "oas31-dropped", "/webhooks", 8],
    ]);
    const doc = parse(r.upload!) as Record<string, any>;
    expect(Object.keys(doc)).not.toContain("$schema");
    expect(Object.keys(doc)).not.toContain("jsonSchemaDialect");
    expect(Object.keys(doc)).not.toContain("webhooks");
    expect(doc.info.license).toEqual({ name: "Apache-2.0" });
  });

  it("what cannot be converted is an error finding, and nothing is uploaded", () => {
    const { r } = convert("    A: {type: [string, integer]}\n    B: {prefixItems: [{type: string}]}\n    C: {type: \"null\"}\n");
    expect(r.upload).toBeNull();
    expect(r.check.findings.map((f) => [f.severity, f.rule, f.pointer, f.line])).toEqual([
      ["error", "oas31-unconvertible", "/components/schemas/A/type", 8],
      ["error", "oas31-unconvertible", "/components/schemas/B/prefixItems", 9],
      ["error", "oas31-unconvertible", "/components/schemas/C/type", 10],
    ]);
  });

  it("a 3.1 JSON document is uploaded as JSON", () => {
    const r = checkImportSpec('{"openapi": "3.1.0", "info": {"title": "Pets_API", "version": "1"}, "paths": {}}', existing);
    expect(JSON.parse(r.upload!)).toMatchObject({ openapi: "3.0.3" });
  });

  it("a property named like a keyword is a name, not a keyword", () => {
    const { doc } = convert("    A: {type: object, properties: {const: {type: string}, examples: {type: array}}}\n");
    expect(doc?.components.schemas.A.properties).toEqual({ const: { type: "string" }, examples: { type: "array" } });
  });
});
