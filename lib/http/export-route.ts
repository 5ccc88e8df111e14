/**
 * `GET /tasks/{task_id}/export`: a watch's whole exported document, as
 * stored (gzip), checked against its SHA-256 before a byte is served.
 */
import { readExport } from "../app/exports";
import { exportContentType } from "../domain/export-document";
import { valueOr } from "./error-table";
import type { Route } from "./routes";
import { Id } from "./schemas";

/** The route; its handler scopes by tenant exactly like `GET /tasks/{task_id}`. */
export const exportRoute: Route = {
  method: "GET",
  path: "/tasks/{task_id}/export",
  operationId: "getExport",
  summary:
    "The whole exported document of a finished export watch, `Content-Encoding: gzip`, with `X-Content-SHA256` (hex, of the document) and `ETag`; at most 4.49 MiB compressed (Lambda's 6 MB response, base64)",
  auth: true,
  params: { task_id: Id },
  responses: {
    200: { description: "the document, gzip-compressed, `Content-Type` by the file type", media: ["application/json", "application/yaml", "application/octet-stream"] },
    401: { description: "missing or unknown API key", schema: "Error" },
    404: { description: "no such watch (`not_found`), or the watch has no stored export (`no_export`)", schema: "Error" },
    410: { description: "the document was kept `RETENTION_DAYS` after the task ended and is gone (`export_expired`); the watch may outlive it a while", schema: "Error" },
    422: { description: "the compressed document is larger than one answer can carry (`export_too_large`)", schema: "Error" },
    500: { description: "the stored document is damaged or incomplete (`export_unreadable`); nothing is served", schema: "Error" },
  },
  handle: async ({ deps, tenant, params }) => {
    const r = valueOr(await readExport(deps, tenant, params.task_id!));
    const name = `${r.file_name ?? params.task_id!}${r.file_type?.startsWith(".") ? r.file_type : r.file_type ? `.${r.file_type}` : ""}`;
    return {
      statusCode: 200,
      headers: {
        "content-type": exportContentType(r.file_type),
        "content-encoding": "gzip",
        "content-disposition": `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
        etag: `"${r.sha256}"`,
        "x-content-sha256": r.sha256,
        "x-content-length": String(r.size_bytes),
      },
      body: r.gzip.toString("base64"),
      isBase64Encoded: true,
    };
  },
};
