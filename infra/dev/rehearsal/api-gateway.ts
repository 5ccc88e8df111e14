/**
 * The HTTP API (API Gateway v2, payload 2.0) in front of the api function:
 * matches a request to the template's route keys (no route: APIG's own
 * 404, no invocation), builds the event as API Gateway does, invokes the
 * function synchronously in a container, and turns the outcome into the
 * answer API Gateway would give (a function error or a run past the 30 s
 * integration timeout: 500 / 503 from APIG itself).
 */
import { randomUUID } from "node:crypto";
import type { LambdaService } from "./containers";

export interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The function answered binary: `body` is base64 (API Gateway would send the bytes). */
  isBase64Encoded?: boolean;
  // Parsed JSON answers are untyped here; the scenario checks what it needs.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  routeKey: string | null;
}

export interface ApiRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

const INTEGRATION_TIMEOUT_MS = 30_000;

/** The route key a path matches, `{param}` segments as wildcards, and the path parameters. */
export function matchRoute(routes: string[], method: string, path: string): { routeKey: string; params: Record<string, string> } | null {
  const segs = path.split("/");
  for (const key of routes) {
    const [m, pattern] = key.split(" ") as [string, string];
    if (m !== method && m !== "ANY") continue;
    const want = pattern.split("/");
    if (want.length !== segs.length) continue;
    const params: Record<string, string> = {};
    if (want.every((w, i) => (w.startsWith("{") ? ((params[w.slice(1, -1)] = decodeURIComponent(segs[i]!)), segs[i] !== "") : w === segs[i]))) return { routeKey: key, params };
  }
  return null;
}

/**
 * @param fnFor the function a route key's integration invokes
 */
export function apiGateway(lambda: LambdaService, fnFor: (routeKey: string) => string, routes: string[], stack: { accountId: string; region: string }) {
  const answers: Array<{ method: string; path: string; routeKey: string | null; status: number }> = [];
  async function call(r: ApiRequest): Promise<ApiAnswer> {
    const match = matchRoute(routes, r.method, r.path);
    const done = (a: Omit<ApiAnswer, "json" | "routeKey">): ApiAnswer => {
      answers.push({ method: r.method, path: r.path, routeKey: match?.routeKey ?? null, status: a.status });
      let json: unknown = null;
      try {
        json = JSON.parse(a.body);
      } catch {
        // not JSON
      }
      return { ...a, json, routeKey: match?.routeKey ?? null };
    };
    if (!match) return done({ status: 404, headers: { "content-type": "application/json" }, body: '{"message":"Not Found"}' });
    const event = httpEvent(r, { routeKey: match.routeKey, host: "rehearsal.execute-api.local", apiId: "rehearsal", accountId: stack.accountId, params: match.params });
    const t0 = Date.now();
    const inv = await lambda.invoke(fnFor(match.routeKey), event, "sync");
    if (inv.throttled) return done({ status: 503, headers: {}, body: '{"message":"Service Unavailable"}' });
    if (Date.now() - t0 > INTEGRATION_TIMEOUT_MS) return done({ status: 503, headers: {}, body: '{"message":"Service Unavailable"}' });
    if (!inv.ok || typeof inv.value?.statusCode !== "number") return done({ status: 500, headers: {}, body: '{"message":"Internal Server Error"}' });
    return done({ status: inv.value.statusCode, headers: inv.value.headers ?? {}, body: inv.value.body ?? "", ...(inv.value.isBase64Encoded === true ? { isBase64Encoded: true } : {}) });
  }
  return { call, answers };
}

/** A payload 2.0 event as API Gateway (or, with routeKey `$default` and no path parameters, a function URL) builds it. */
export function httpEvent(r: ApiRequest, at: { routeKey: string; host: string; apiId: string; accountId: string; params?: Record<string, string> }) {
  const query = r.query ?? {};
  const rawQueryString = new URLSearchParams(query).toString();
  const now = new Date();
  const headers = { host: at.host, "user-agent": "rehearsal", ...Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) };
  return {
    version: "2.0",
    routeKey: at.routeKey,
    rawPath: r.path,
    rawQueryString,
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    ...(at.params && Object.keys(at.params).length ? { pathParameters: at.params } : {}),
    requestContext: {
      accountId: at.accountId,
      apiId: at.apiId,
      domainName: headers.host,
      domainPrefix: at.apiId,
      http: { method: r.method, path: r.path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: headers["user-agent"] },
      requestId: randomUUID(),
      routeKey: at.routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(r.body !== undefined ? { body: r.body } : {}),
    isBase64Encoded: false,
  };
}

/**
 * A function URL (AuthType NONE, payload 2.0): every request reaches the
 * function, which alone decides what to answer; a throttle is Lambda's 429.
 * @param functionUrls URL -> the function it invokes (the packaged template's)
 */
export function functionUrls(lambda: LambdaService, urls: Record<string, string>) {
  return async function call(url: string, r: ApiRequest): Promise<ApiAnswer> {
    const base = Object.keys(urls).find((u) => url.startsWith(u.replace(/\/$/, "")));
    const answer = (status: number, headers: Record<string, string>, body: string): ApiAnswer => {
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // not JSON
      }
      return { status, headers, body, json, routeKey: null };
    };
    if (!base) return answer(404, {}, "no such function URL");
    const host = new URL(base).host;
    const inv = await lambda.invoke(urls[base]!, httpEvent(r, { routeKey: "$default", host, apiId: host.split(".")[0]!, accountId: "anonymous" }), "sync");
    if (inv.throttled) return answer(429, {}, '{"Message":"Rate Exceeded."}');
    if (!inv.ok || typeof inv.value?.statusCode !== "number") return answer(502, {}, '{"Message":"Internal Server Error"}');
    return answer(inv.value.statusCode, inv.value.headers ?? {}, inv.value.body ?? "");
  };
}
