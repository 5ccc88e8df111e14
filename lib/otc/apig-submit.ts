/**
 * APIG's async-import (multipart/form-data, the document as file part
 * `file_name`) and async-export (JSON) calls, authenticated like the task
 * query, with a retry or two on what may heal. Never throws for what the
 * network or APIG do.
 */
import type { Dispatcher } from "undici";
import * as z from "../domain/zod";
import { errorMessage, isTimeout } from "../domain/error-text";
import type { ExportSubmission, ImportSubmission, SubmitResult, SubmitTarget, TaskSubmitter } from "../app/ports";
import { requestCapped } from "../net/http-request";
import type { AuthProvider, OutgoingRequest } from "./apig-client";
import { multipartBody } from "./multipart";

export interface ApigSubmitterOptions {
  endpoint: string;
  auth: AuthProvider;
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** Pauses before the 2nd and 3rd try; default 500 ms and 1.5 s. */
  retryDelaysMs?: readonly number[];
  /** Waits out those pauses; default a real timer (tests pass one that records them). */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));

const accepted = z.object({ task_id: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/)) });
const errorBody = z.object({ error_code: z.optional(z.string()), error_msg: z.optional(z.string()) });

/** {@link TaskSubmitter} over one APIG endpoint. */
export class ApigSubmitter implements TaskSubmitter {
  constructor(private readonly opts: ApigSubmitterOptions) {}

  submitImport(s: ImportSubmission): Promise<SubmitResult> {
    const yaml = /\.ya?ml$/i.test(s.fileName);
    const mp = multipartBody(s.fields, {
      name: "file_name",
      fileName: s.fileName,
      contentType: yaml ? "application/yaml" : "application/json",
      content: s.spec,
    });
    return this.post(s, "async-import", "", mp.contentType, mp.body);
  }

  submitExport(s: ExportSubmission): Promise<SubmitResult> {
    const query = s.oasVersion === undefined ? "" : `?oas_version=${encodeURIComponent(s.oasVersion)}`;
    return this.post(s, "async-export", query, "application/json", JSON.stringify(s.body));
  }

  private async post(t: SubmitTarget, op: string, query: string, contentType: string, body: string): Promise<SubmitResult> {
    const url = new URL(
      `${this.opts.endpoint.replace(/\/+$/, "")}/v2/${encodeURIComponent(t.projectId)}/apigw/instances/` +
        `${encodeURIComponent(t.instanceId)}/openapi/${op}${query}`,
    );
    const req: OutgoingRequest = {
      method: "POST",
      url,
      projectId: t.projectId,
      headers: { host: url.host, "content-type": contentType, "x-project-id": t.projectId },
      body,
    };
    const delays = this.opts.retryDelaysMs ?? [500, 1500];
    let reauthorized = false;
    let last = "no answer";
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      if (attempt > 0) await (this.opts.sleep ?? realSleep)(delays[attempt - 1]!);
      let headers: Record<string, string>;
      try {
        // Signed afresh every try: AK/SK signatures carry the time.
        headers = await this.opts.auth.authorize(req);
      } catch (err) {
        return { ok: false, kind: "unavailable", message: `authentication failed: ${errorMessage(err)}` };
      }
      let res: { status: number; body: string };
      try {
        res = await requestCapped(url, {
          method: "POST",
          headers,
          body,
          dispatcher: this.opts.dispatcher,
          timeoutMs: this.opts.timeoutMs,
          maxBodyBytes: 64 * 1024,
          overflow: "truncate",
        });
      } catch (err) {
        // No retry after a timeout: APIG may have taken the task, and a
        // second try would start a second import.
        if (isTimeout(err)) return { ok: false, kind: "unavailable", message: `APIG did not answer within ${this.opts.timeoutMs} ms` };
        last = `APIG unreachable: ${errorMessage(err)}`;
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        const a = accepted.safeParse(parseJson(res.body));
        if (a.success) return { ok: true, taskId: a.data.task_id };
        return { ok: false, kind: "unavailable", message: `APIG answered ${res.status} without a task_id` };
      }
      const e = errorBody.safeParse(parseJson(res.body));
      const code = (e.success && e.data.error_code) || `http_${res.status}`;
      const msg = ((e.success && e.data.error_msg) || `APIG answered ${res.status}`).slice(0, 500);
      if (res.status === 401 && !reauthorized) {
        reauthorized = true;
        let retry = false;
        try {
          retry = await this.opts.auth.rejected(req, headers);
        } catch {
          retry = false;
        }
        if (retry) {
          attempt--; // a fresh token is not one of the retries
          continue;
        }
      }
      // 429 and 5xx (throttling, APIG.9999) may heal; any other 4xx will not.
      if (res.status === 429 || res.status >= 500) {
        last = `APIG answered ${res.status} ${code}: ${msg}`;
        continue;
      }
      return { ok: false, kind: "rejected", http_status: res.status, error_code: code.slice(0, 64), error_msg: msg };
    }
    return { ok: false, kind: "unavailable", message: last.slice(0, 500) };
  }
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
