/**
 * IAM user tokens (`POST /v3/auth/tokens`, password identity, project scope),
 * cached per project for the life of the process — in Lambda, across the
 * invocations of a warm container — and renewed well before they expire.
 */
import { type Dispatcher, request } from "undici";
import { z } from "zod";

/** IAM said no, or could not be reached. Messages never carry the password or a token. */
export class IamAuthError extends Error {
  override name = "IamAuthError";
  constructor(
    readonly code: "iam_unauthorized" | "iam_throttled" | "iam_unavailable" | "iam_bad_response",
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

export interface IamTokenOptions {
  iamEndpoint: string;
  username: string;
  password: string;
  domainName: string;
  dispatcher?: Dispatcher;
  now?: () => number;
  /** Renew this long before `expires_at`; tokens live 24 h. Default 1 h. */
  renewBeforeMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** How many IAM 429 answers to wait out before giving up. */
  maxRetries429?: number;
}

export interface IamTokenProvider {
  /** A valid token for the project; one IAM call serves all concurrent callers. */
  getToken(projectId: string): Promise<string>;
  /** Forget `token` if it is still the cached one (after APIG refused it). */
  invalidate(projectId: string, token: string): void;
}

const tokenBody = z.object({ token: z.object({ expires_at: z.string() }) });

/** Create a token provider; keep one per process. */
export function createIamTokenProvider(opts: IamTokenOptions): IamTokenProvider {
  const now = opts.now ?? Date.now;
  const renewBeforeMs = opts.renewBeforeMs ?? 3_600_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxRetries429 = opts.maxRetries429 ?? 3;
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
    for (let attempt = 0; ; attempt++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await request(`${opts.iamEndpoint.replace(/\/+$/, "")}/v3/auth/tokens?nocatalog=true`, {
          method: "POST",
          headers: { "content-type": "application/json;charset=utf8" },
          body,
          ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "error";
        throw new IamAuthError("iam_unavailable", `IAM unreachable (${code})`);
      }
      const text = await res.body.text().catch(() => "");
      if (res.statusCode === 429 && attempt < maxRetries429) {
        const ra = Number(res.headers["retry-after"]);
        await sleep(Number.isFinite(ra) && ra >= 0 ? Math.min(ra, 60) * 1000 : 1000 * 2 ** attempt);
        continue;
      }
      if (res.statusCode === 429) throw new IamAuthError("iam_throttled", "IAM kept answering 429", 429);
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new IamAuthError("iam_unauthorized", `IAM refused the credentials of user ${opts.username} (${res.statusCode})`, res.statusCode);
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        throw new IamAuthError("iam_unavailable", `IAM answered ${res.statusCode}`, res.statusCode);
      }
      const token = res.headers["x-subject-token"];
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      const b = tokenBody.safeParse(parsed);
      const expiresAt = b.success ? Date.parse(b.data.token.expires_at) : NaN;
      if (typeof token !== "string" || token === "" || Number.isNaN(expiresAt)) {
        throw new IamAuthError("iam_bad_response", "IAM answer had no X-Subject-Token or expires_at", res.statusCode);
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
