/**
 * Request schemas of the HTTP API and the reading of bodies and query strings
 * into them; every failure is a 4xx in the documented error shape.
 */
import * as z from "../domain/zod";
import { ImportCheck } from "../domain/import-finding";
import { LabelsInput } from "../domain/labels";
import { notifyRequest } from "./target-request";
import { RegionId, WatchStatus } from "../domain/watch";
import { HttpError, validationError, type FieldIssue } from "./errors";
import type { HttpRequest } from "./message";

export const MAX_BODY_BYTES = 64 * 1024;

/** Project, instance and task ids as APIG issues them. */
export const Id = z.string().check(
  z.minLength(1),
  z.maxLength(64),
  z.regex(/^[A-Za-z0-9_-]+$/, "must be 1-64 letters, digits, '-' or '_'"),
);

/** Registration labels: any valid name kept exactly (see `domain/labels.ts`). */
export { LabelsInput as Labels } from "../domain/labels";

/** What every request that creates a watch may say about it, besides the task. */
const watchOptions = (allowPrivate: boolean) => ({
  region: z.optional(RegionId),
  notify: z.optional(z.array(notifyRequest(allowPrivate)).check(z.maxLength(10))),
  labels: z.optional(LabelsInput),
  timeout_s: z.optional(z.int().check(z.minimum(60), z.maximum(30 * 86400))),
});

const registrationRequest = (allowPrivate: boolean) =>
  z.strictObject({ project_id: Id, instance_id: Id, task_id: Id, ...watchOptions(allowPrivate) });

/** `POST /tasks`, for a deployment that allows private targets or not. */
export const RegistrationRequest = { public: registrationRequest(false), private: registrationRequest(true) } as const;
export type RegistrationRequest = z.infer<(typeof RegistrationRequest)["public"]>;

/** Body limit of `POST /imports`, which carries a whole OpenAPI document. */
export const MAX_IMPORT_BODY_BYTES = 5 * 1024 * 1024;

const mergeMode = z.enum(["merge", "override"]);

const importRequest = (allowPrivate: boolean) =>
  z.strictObject({
    project_id: Id,
    instance_id: Id,
    /** The OpenAPI / Swagger document, JSON or YAML text, sent to APIG as the `file_name` file. */
    spec: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_IMPORT_BODY_BYTES))),
    /**
     * The same document gzip-compressed and base64-encoded, instead of `spec`: a 5 MiB file
     * then fits the body limit whatever JSON escaping would make of it (see `import-check-route.ts`).
     */
    spec_gzip: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_IMPORT_BODY_BYTES), z.regex(/^[A-Za-z0-9+/]+={0,2}$/, "must be base64"))),
    /** The upload's file name; its extension tells APIG JSON from YAML. */
    file_name: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,128}$/, "must be 1-128 of [A-Za-z0-9_.-]"))),
    group_id: z.optional(Id),
    is_create_group: z.optional(z.boolean()),
    extend_mode: z.optional(mergeMode),
    api_mode: z.optional(mergeMode),
    simple_mode: z.optional(z.boolean()),
    mock_mode: z.optional(z.boolean()),
    ...watchOptions(allowPrivate),
  });

/** Exactly one of `spec` and `spec_gzip`. */
const oneSpec = <T extends { spec?: string | undefined; spec_gzip?: string | undefined }>(s: z.ZodMiniType<T>) =>
  s.check(
    z.superRefine((b, ctx) => {
      if ((b.spec === undefined) === (b.spec_gzip === undefined)) ctx.addIssue({ code: "custom", message: "give spec or spec_gzip (one of them)", path: ["spec"], input: b });
    }),
  );

/** `POST /imports`: APIG's async-import fields plus the watch's options. */
export const ImportRequest = { public: oneSpec(importRequest(false)), private: oneSpec(importRequest(true)) } as const;
export type ImportRequest = z.infer<(typeof ImportRequest)["public"]>;

const exportRequest = (allowPrivate: boolean) =>
  z.strictObject({
    project_id: Id,
    instance_id: Id,
    group_id: Id,
    env_id: Id,
    define: z.optional(z.enum(["spec", "proxy", "all", "dev"])),
    type: z.optional(z.enum(["json", "yaml", "yml"])),
    version: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
    apis: z.optional(z.array(Id).check(z.maxLength(1000))),
    oas_version: z.optional(z.enum(["2.0", "3.0"])),
    ...watchOptions(allowPrivate),
  });

/** `POST /exports`: APIG's async-export fields plus the watch's options. */
export const ExportRequest = { public: exportRequest(false), private: exportRequest(true) } as const;
export type ExportRequest = z.infer<(typeof ExportRequest)["public"]>;

/** `POST /tasks/{task_id}/redeliver`; an empty body means every dead or delivered target. */
export const RedeliverRequest = z.strictObject({
  targets: z.optional(z.array(z.string().check(z.regex(/^t\d{1,3}$/, "target ids look like t0"))).check(z.minLength(1), z.maxLength(10))),
});

/** `GET /tasks/{task_id}` query string: `wait` seconds of long-polling (API Gateway gives up after 29 s). */
export const WaitQuery = z.object({
  wait: z.optional(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(25))),
});

/** Every error answer. `apig` carries APIG's own refusal (422 `apig_rejected`). */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.optional(z.array(z.object({ path: z.string(), message: z.string() }))),
    apig: z.optional(z.object({ http_status: z.number(), error_code: z.string(), error_msg: z.string() })),
    /** The import gate's findings (422 `spec_rejected`). */
    check: z.optional(ImportCheck),
  }),
});

/** `GET /health`. */
export const HealthAnswer = z.looseObject({ status: z.string() });

/** `GET /tasks` query string. */
export const ListQuery = z.object({
  status: z.optional(WatchStatus),
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 20),
  cursor: z.optional(z.string().check(z.maxLength(2048))),
});

/** Parse `input` with `schema`, or throw a 400 naming each bad field. */
export function parseOr400<S extends z.ZodMiniType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues: FieldIssue[] = r.error.issues.map((i) => ({
    path: i.path.map(String).join(".") || (i.code === "unrecognized_keys" ? i.keys.join(",") : ""),
    message: i.message,
  }));
  throw validationError(issues);
}

/** The JSON body, or a 413 / 415 / 400 in the documented shape. */
export function parseJsonBody(req: HttpRequest, maxBytes = MAX_BODY_BYTES): unknown {
  const body = req.body ?? Buffer.alloc(0);
  if (body.length > maxBytes) throw new HttpError(413, "payload_too_large", `body over ${maxBytes} bytes`);
  const type = req.headers["content-type"];
  if (type !== undefined && !/^application\/(.+\+)?json\b/i.test(type.trim())) {
    throw new HttpError(415, "unsupported_media_type", "send the body as application/json");
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "invalid_json", "body is not valid JSON");
  }
}
