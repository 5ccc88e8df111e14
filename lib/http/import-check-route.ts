/**
 * `POST /imports/check`: the import gate on its own. The same body as
 * `POST /imports`; nothing is submitted, nothing is stored.
 */
import { gunzipSync } from "node:zlib";
import { createsGroup } from "../app/checked-import";
import { checkImportSpec } from "../domain/import-check";
import { HttpError } from "./errors";
import { type HttpResponse, json } from "./message";
import type { Route } from "./routes";
import * as z from "../domain/zod";
import { ImportRequest, MAX_IMPORT_BODY_BYTES } from "./schemas";

/** The fields of an import request the check reads. */
const CheckedFields = z.object({
  spec: z.optional(z.string()),
  spec_gzip: z.optional(z.string()),
  group_id: z.optional(z.string()),
  is_create_group: z.optional(z.boolean()),
});

/**
 * The document of an import request: `spec` as it is, or `spec_gzip`
 * decompressed. The limit is the document's own size, 5 MiB, whichever field
 * carries it; gzip is how the CLI gets a 5 MiB file through API Gateway and
 * Lambda's 6 MB invocation payload, which JSON escaping alone can overrun.
 */
export function specOf(body: { spec?: string | undefined; spec_gzip?: string | undefined }): string {
  if (body.spec !== undefined) return body.spec;
  let text: Buffer;
  try {
    text = gunzipSync(Buffer.from(body.spec_gzip ?? "", "base64"), { maxOutputLength: MAX_IMPORT_BODY_BYTES });
  } catch (err) {
    if (err instanceof RangeError) throw new HttpError(413, "payload_too_large", `spec_gzip holds a document over ${MAX_IMPORT_BODY_BYTES} bytes`);
    throw new HttpError(400, "validation_failed", "request has invalid fields", [{ path: "spec_gzip", message: "is not gzip data in base64" }]);
  }
  return text.toString("utf8");
}

/** The route, registered in the router's table. */
export const importCheckRoute: Route = {
  method: "POST",
  path: "/imports/check",
  operationId: "checkImport",
  summary: "Check an OpenAPI document against APIG's import rules (3.1 is converted to 3.0.3); nothing is submitted",
  auth: true,
  body: ImportRequest.public,
  privateBody: ImportRequest.private,
  maxBodyBytes: MAX_IMPORT_BODY_BYTES,
  responses: {
    200: { description: "the findings; `ok` is false when any is an error", schema: "ImportCheck" },
    400: { description: "bad JSON or fields, each named in `issues`", schema: "Error" },
    401: { description: "missing or unknown API key", schema: "Error" },
    413: { description: "body too large", schema: "Error" },
    415: { description: "body is not application/json", schema: "Error" },
  },
  handle: async ({ body }) => {
    // The router has validated the whole body with `ImportRequest`; this reads the three fields the check needs.
    const b = CheckedFields.parse(body);
    return json(200, checkImportSpec(specOf(b), { newGroup: createsGroup(b) }).check);
  },
};
