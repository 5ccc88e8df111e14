/**
 * The one classification of an APIG answer that carried no status, shared by
 * the metrics, the region health check and the rate limiter. Pure.
 */
import type { ApigObservation } from "./lifecycle";

/**
 * Why an APIG query got no status, coarse enough to alarm on:
 * - `auth`: APIG answered 401, or IAM refused the credentials (wrong or rotated keys);
 * - `unreachable`: no answer at all (DNS, connection refused or reset, timeout; IAM unreachable);
 * - `throttled`: any 429 (Huawei Cloud's front door answers 429 `APIG.0308`), 500 `APIG.9008`, or IAM throttling;
 * - `server`: another 5xx;
 * - `not_found`: 404 `APIG.3093` (often a task id from another region or instance);
 * - `rejected`: 400 or 403, the task can never be watched;
 * - `other`: an answer we could not read.
 */
export type ApigFault = "auth" | "unreachable" | "throttled" | "server" | "not_found" | "rejected" | "other";

/** APIG's and IAM's codes for credentials that are wrong or expired (besides any 401). */
const AUTH_CODES = new Set(["APIG.1000", "APIG.1001", "APIG.1002", "APIC.7101", "auth_failed", "iam_unauthorized"]);

/** Codes that say "too many requests" whatever the HTTP status. */
const THROTTLE_CODES = new Set(["APIG.9008", "APIG.0308", "iam_throttled"]);

/** The fault of an answer, or null for an answer with a status. */
export function faultOf(o: ApigObservation): ApigFault | null {
  if (o.ok) return null;
  if (o.category === "not_found") return "not_found";
  if (o.category === "permanent") return "rejected";
  if (o.http_status === 401 || AUTH_CODES.has(o.code)) return "auth";
  if (o.http_status === 429 || THROTTLE_CODES.has(o.code)) return "throttled";
  if (o.http_status === null) return o.code === "bad_response" || o.code === "response_too_large" ? "other" : "unreachable";
  if (o.http_status >= 500) return "server";
  return "other";
}
