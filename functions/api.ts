/** Lambda handler of the HTTP API (API Gateway HTTP API, payload v2). */
import { createApiHandler } from "../lib/platform/api-handler";

export const handler = createApiHandler(process.env);
