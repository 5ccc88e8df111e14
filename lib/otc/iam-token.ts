/**
 * IAM user tokens (`POST /v3/auth/tokens`, password identity, project scope),
 * cached per project for the life of the process — in Lambda, across the
 * invocations of a warm container — and renewed well before they expire.
 */
import { IamAuthError, type IamErrorCode } from "../domain/errors";
export { IamAuthError, type IamErrorCode };
import { Agent, type Dispatcher } from "../net/undici";
import * as z from "../domain/zod";
import { errorCode } from "../domain/error-text";
import { type CappedResponse, requestCapped } from "../net/http-request";
import { parseRetryAfter } from "../net/retry-after";
import { IAM_FETCH_BUDGET_MS } from "../app/timing";

/** Options of {@link createIamTokenProvider}. */
export interface IamTokenOptions {
  /** IAM base URL, ending before `/v3`. */
  iamEndpoint: string;
  username: string;
  password: string;
  /** Name of the account (domain) that created the user. */
  domainName: string;
  dispatcher?: Dispatcher;
  /** Clock in epoch milliseconds; default `Date.now`. */
  now?: () => number;
  /** Renew this long before `expires_at`; tokens live 24 h. Default 1 h. */
  renewBeforeMs?: number;
  /** Per IAM request, headers and body each. Default 10 s. */
  timeoutMs?: number;
  /** Waits out 429s; default a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /** How many IAM 429 answers to wait out before giving up. Default 3. */
  maxRetries429?: number;
  /** Longest single wait on a 429; a longer `Retry-After` fails at once with `iam_throttled`. Default 60 s. */
  maxRetryAfterMs?: number;
  /**
   * The whole fetch, every try and every wait, ends within this; a wait that
   * would pass it fails at once with `iam_throttled`. Default
   * `IAM_FETCH_BUDGET_MS`, which the poller's reserve counts (`app/timing.ts`).
   */
  budgetMs?: number;
}

/** Hands out IAM tokens per project. */
export interface IamTokenProvider {
  /** A valid token for the project; one IAM call serves all concurrent callers. */
  getToken(projectId: string): Promise<string>;
  /**
   * Forget `token` if it is still the cached one (after APIG refused it).
   * Comparing the token makes many pollers that saw the same 401 cause one
   * renewal, not one each.
   */
  invalidate(projectId: string, token: string): void;
}

const tokenBody = z.object({ token: z.object({ expires_at: z.string().check(z.minLength(1)) }) });

/** Create a token provider; keep one per process so the cache is shared. */
export function createIamTokenProvider(opts: IamTokenOptions): IamTokenProvider {
  const now = opts.now ?? Date.now;
  const renewBeforeMs = opts.renewBeforeMs ?? 3_600_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxRetries429 = opts.maxRetries429 ?? 3;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
  const budgetMs = opts.budgetMs ?? IAM_FETCH_BUDGET_MS;
  const url = `${opts.iamEndpoint.replace(/\/+$/, "")}/v3/auth/tokens?nocatalog=true`;
  const dispatcher = opts.dispatcher ?? new Agent({ connections: 4 });
  const cache = new Map<string, { token: string; expiresAt: number }>();
  const inflight = new Map<string, Promise<string>>();

  async function fetchToken(projectId: string): Promise<string> {
    const body = JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: opts.username, password: opts.password, domain: { name: opts.domainName } } },
        },
        scope: { project: { id: projectId } },
      },
    });
    const deadline = now() + budgetMs;
    for (let attempt = 0; ; attempt++) {
      let res: CappedResponse;
      try {
        res = await requestCapped(url, {
          method: "POST",
          headers: { "content-type": "application/json;charset=utf8" },
          body,
          dispatcher,
          timeoutMs: Math.max(1, Math.min(timeoutMs, deadline - now())),
          // A token answer carries the catalog at most; anything bigger is not IAM.
          maxBodyBytes: 1024 * 1024,
          overflow: "truncate",
        });
      } catch (err) {
        // Only the error code: undici errors can carry request details.
        throw new IamAuthError("iam_unavailable", `IAM unreachable (${errorCode(err, err instanceof Error ? err.name : "error")})`);
      }
      const text = res.body;
      const status = res.status;
      if (status === 429) {
        const wait = parseRetryAfter(res.headers["retry-after"], new Date(now())) ?? null;
        const pause = wait ?? 1000 * 2 ** attempt;
        if (attempt >= maxRetries429 || pause > maxRetryAfterMs || now() + pause >= deadline) {
          throw new IamAuthError("iam_throttled", `IAM answered 429 ${attempt + 1} time(s)`, {
            httpStatus: 429,
            ...(wait !== null ? { retryAfterMs: wait } : {}),
          });
        }
        // Without Retry-After, back off exponentially from 1 s.
        await sleep(pause);
        continue;
      }
      if (status === 400 || status === 401 || status === 403) {
        throw new IamAuthError("iam_unauthorized", `IAM refused the token request for user ${opts.username} (${status})`, {
          httpStatus: status,
        });
      }
      if (status < 200 || status >= 300) {
        throw new IamAuthError("iam_unavailable", `IAM answered ${status}`, { httpStatus: status });
      }
      const token = res.headers["x-subject-token"];
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        // reported below as a bad response
      }
      const b = tokenBody.safeParse(parsed);
      const expiresAt = b.success ? Date.parse(b.data.token.expires_at) : Number.NaN;
      if (typeof token !== "string" || token === "") {
        throw new IamAuthError("iam_bad_response", "IAM answer had no X-Subject-Token header", { httpStatus: status });
      }
      if (Number.isNaN(expiresAt)) {
        throw new IamAuthError("iam_bad_response", "IAM answer had no readable token.expires_at", { httpStatus: status });
      }
      cache.set(projectId, { token, expiresAt });
      return token;
    }
  }

  return {
    getToken(projectId) {
      const c = cache.get(projectId);
      if (c && c.expiresAt - renewBeforeMs > now()) return Promise.resolve(c.token);
      let p = inflight.get(projectId);
      if (!p) {
        p = fetchToken(projectId).finally(() => inflight.delete(projectId));
        inflight.set(projectId, p);
      }
      return p;
    },
    invalidate(projectId, token) {
      if (cache.get(projectId)?.token === token) cache.delete(projectId);
    },
  };
}
