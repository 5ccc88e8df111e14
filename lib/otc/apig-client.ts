/**
 * APIG's "query the result of an asynchronous task" call, over undici, with
 * every answer classified into an {@link ApigObservation} the state machine
 * understands. Never throws for anything the network or APIG can do.
 */
import type { Dispatcher } from "undici";
import * as z from "../domain/zod";
import { errorCode, errorMessage, isTimeout } from "../domain/error-text";
import { requestCapped, ResponseTooLargeError } from "../net/http-request";
import type { TaskRef } from "../app/ports";
import type { ApigObservation } from "../domain/lifecycle";

/** Request about to be sent, for an auth provider to sign or decorate. */
export interface OutgoingRequest {
  method: string;
  url: URL;
  projectId: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Authentication to OTC. `authorize` returns the headers to send;
 * `rejected` is told about a 401 and answers whether a retry may help
 * (true once a fresh token has been arranged).
 */
export interface AuthProvider {
  authorize(req: OutgoingRequest): Promise<Record<string, string>>;
  rejected(req: OutgoingRequest, sent: Record<string, string>): Promise<boolean>;
}

/** A fixed `X-Auth-Token`; a 401 cannot be cured by retrying. */
export function staticTokenAuth(token: string): AuthProvider {
  return {
    authorize: async (req) => ({ ...req.headers, "X-Auth-Token": token }),
    rejected: async () => false,
  };
}

export interface ApigClientOptions {
  endpoint: string;
  auth: AuthProvider;
  dispatcher: Dispatcher;
  timeoutMs: number;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** An answer over MAX_BODY_BYTES this many times in a row can never be read: the watch ends. */
export const TOO_LARGE_TRIES = 3;

const statusBody = z.object({
  task_id: z.optional(z.string()),
  task_status: z.string(),
  task_type: z.nullish(z.string()),
  // Documented as a JSON *string*; tolerate an inlined object or null.
  task_result: z.optional(z.unknown()),
});
type StatusFields = Pick<z.infer<typeof statusBody>, "task_status" | "task_type" | "task_result">;

/**
 * The fields of a task status answer, or null when it is none. The common
 * shape is checked by hand first (zod's parse was a tenth of a poll's own
 * work); whatever that check does not take is left to the schema, which
 * stays the rule: the hand check accepts only what it accepts.
 */
export function statusFields(json: unknown): StatusFields | null {
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const o = json as Record<string, unknown>;
    const type = o.task_type;
    if (
      typeof o.task_status === "string" &&
      (o.task_id === undefined || typeof o.task_id === "string") &&
      (type === undefined || type === null || typeof type === "string")
    ) {
      return { task_status: o.task_status, task_type: type as string | null | undefined, task_result: o.task_result };
    }
  }
  const r = statusBody.safeParse(json);
  return r.success ? r.data : null;
}

/** The schema itself, for the test that holds {@link statusFields} to it. */
export const statusBodySchema = statusBody;

const errorBody = z.object({ error_code: z.optional(z.string()), error_msg: z.optional(z.string()) });

/** Client for one APIG endpoint. */
export class ApigClient {
  constructor(private readonly opts: ApigClientOptions) {}

  /** Ask APIG about one task; one forced re-authentication on 401. */
  async queryTask(ref: TaskRef): Promise<ApigObservation> {
    const path =
      `/v2/${encodeURIComponent(ref.projectId)}/apigw/instances/${encodeURIComponent(ref.instanceId)}` +
      `/async-tasks/${encodeURIComponent(ref.taskId)}`;
    const url = new URL(this.opts.endpoint.replace(/\/+$/, "") + path);
    const req: OutgoingRequest = {
      method: "GET",
      url,
      projectId: ref.projectId,
      headers: { host: url.host, "content-type": "application/json", "x-project-id": ref.projectId },
      body: "",
    };
    let tooLarge = 0;
    for (let attempt = 0; ; attempt++) {
      let headers: Record<string, string>;
      try {
        headers = await this.opts.auth.authorize(req);
      } catch (err) {
        return transient(errorCode(err, "auth_failed"), `authentication failed: ${errorMessage(err)}`, null);
      }
      const answer = await this.send(url, headers);
      if ("tooLarge" in answer) {
        // A cut connection could look the same once; an answer that stays too large never gets smaller.
        if (++tooLarge < TOO_LARGE_TRIES) continue;
        return {
          ok: false,
          category: "permanent",
          code: "response_too_large",
          message: `APIG's answer about this task was over ${MAX_BODY_BYTES / 1024 / 1024} MiB ${TOO_LARGE_TRIES} times in a row; too large to read, so it cannot be followed`,
          http_status: answer.tooLarge,
        };
      }
      if ("network" in answer) return answer.network;
      if (answer.status === 401 && attempt === 0) {
        let retry = false;
        try {
          retry = await this.opts.auth.rejected(req, headers);
        } catch (err) {
          return transient(errorCode(err, "auth_failed"), `authentication failed: ${errorMessage(err)}`, 401);
        }
        if (retry) continue;
      }
      return classify(answer.status, answer.body);
    }
  }

  private async send(
    url: URL,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: string } | { network: ApigObservation } | { tooLarge: number }> {
    try {
      const res = await requestCapped(url, {
        method: "GET",
        headers,
        dispatcher: this.opts.dispatcher,
        timeoutMs: this.opts.timeoutMs,
        maxBodyBytes: MAX_BODY_BYTES,
        overflow: "fail",
      });
      return { status: res.status, body: res.body };
    } catch (err) {
      if (err instanceof ResponseTooLargeError) return { tooLarge: err.status };
      const timedOut = isTimeout(err);
      return {
        network: transient(
          timedOut ? "timeout" : errorCode(err, "connection_error"),
          timedOut ? `APIG did not answer within ${this.opts.timeoutMs} ms` : `APIG unreachable: ${errorMessage(err)}`,
          null,
        ),
      };
    }
  }
}

function transient(code: string, message: string, httpStatus: number | null): ApigObservation {
  return { ok: false, category: "transient", code, message: message.slice(0, 500), http_status: httpStatus };
}

/**
 * Map one HTTP answer to an observation, following the APIG error table in docs/api.md.
 * Exported for unit tests over the seed document's example bodies.
 */
export function classify(status: number, body: string): ApigObservation {
  let json: unknown;
  try {
    json = body === "" ? undefined : JSON.parse(body);
  } catch {
    json = undefined;
  }
  if (status === 200) {
    const data = statusFields(json);
    if (data === null) return transient("bad_response", "APIG answered 200 with a body that is not a task status", 200);
    const tr = data.task_result;
    const taskResult = tr === undefined || tr === null ? "" : typeof tr === "string" ? tr : JSON.stringify(tr);
    return { ok: true, status: data.task_status, task_type: data.task_type ?? null, task_result: taskResult };
  }
  const e = errorBody.safeParse(json);
  const apigCode = e.success ? e.data.error_code : undefined;
  const code = apigCode ?? `http_${status}`;
  const message = (e.success && e.data.error_msg) || describeBody(status, body);
  const err = { code: code.slice(0, 64), message: message.slice(0, 500), http_status: status };
  if (status === 404 && apigCode === "APIG.3093") return { ok: false, category: "not_found", ...err };
  // 400 and 403 mean this request can never work; anything else may heal.
  if (status === 400 || status === 403) return { ok: false, category: "permanent", ...err };
  return { ok: false, category: "transient", ...err };
}

function describeBody(status: number, body: string): string {
  if (body.trim() === "") return `APIG answered ${status} with an empty body`;
  if (/^\s*</.test(body)) return `APIG answered ${status} with an HTML page`;
  return `APIG answered ${status}: ${body.replace(/\s+/g, " ").slice(0, 200)}`;
}
