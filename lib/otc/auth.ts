/**
 * The three ways to authenticate to OTC, as {@link AuthProvider}s for the
 * APIG client: AK/SK request signing, an IAM user token, a static token.
 */
import type { Dispatcher } from "undici";
import { type AuthProvider, staticTokenAuth } from "./apig-client";
import { createIamTokenProvider, IamAuthError } from "./iam-token";
import { signRequest } from "./signer";

export type OtcAuth =
  | { method: "aksk"; accessKey: string; secretKey: string }
  | { method: "password"; username: string; password: string; domainName: string }
  | { method: "token"; token: string }
  | { method: "none" };


/** AK/SK: every request signed afresh; a 401 cannot be cured by retrying. */
export function akskAuth(accessKey: string, secretKey: string, now: () => Date = () => new Date()): AuthProvider {
  return {
    authorize: async (req) =>
      signRequest({ method: req.method, url: req.url, headers: req.headers, body: req.body }, { accessKey, secretKey }, now()),
    rejected: async () => false,
  };
}

/**
 * IAM user token, cached per project by the token provider; a 401 drops the
 * token that was refused (once, however many polls saw it) and asks for a retry.
 */
export function iamUserAuth(provider: ReturnType<typeof createIamTokenProvider>): AuthProvider {
  return {
    authorize: async (req) => ({ ...req.headers, "X-Auth-Token": await provider.getToken(req.projectId) }),
    rejected: async (req, sent) => {
      const token = sent["X-Auth-Token"];
      if (token !== undefined) provider.invalidate(req.projectId, token);
      return true;
    },
  };
}

/**
 * The authentication the configuration asks for, for one region: an IAM user
 * gets tokens from that region's IAM, cached per project there, so tokens are
 * per (project, region).
 */
export function authFor(a: OtcAuth, dispatcher: Dispatcher, iamEndpoint: string): AuthProvider {
  switch (a.method) {
    case "aksk":
      return akskAuth(a.accessKey, a.secretKey);
    case "password":
      return iamUserAuth(
        createIamTokenProvider({
          iamEndpoint,
          username: a.username,
          password: a.password,
          domainName: a.domainName,
          dispatcher,
        }),
      );
    case "token":
      return staticTokenAuth(a.token);
    case "none":
      // No credentials: requests go out unauthenticated and APIG's 401 shows on the watch.
      return { authorize: async (req) => ({ ...req.headers }), rejected: async () => false };
  }
}

/**
 * Authentication whose credentials may be rotated under it: every request
 * uses `current()`, and when OTC refuses them (APIG answers 401 that the
 * provider cannot cure, or IAM refuses the password) it asks `refresh()` to
 * re-read the secrets at once. `refresh` answers true when the credentials
 * changed, and the request is then retried with the new ones. `refresh` is
 * expected to rate-limit itself: a wrong key makes every poll fail.
 */
export function rotatingAuth(current: () => AuthProvider, refresh: () => Promise<boolean>): AuthProvider {
  return {
    authorize: async (req) => {
      try {
        return await current().authorize(req);
      } catch (err) {
        if (!(err instanceof IamAuthError && err.code === "iam_unauthorized") || !(await refresh())) throw err;
        return current().authorize(req);
      }
    },
    rejected: async (req, sent) => {
      const used = current();
      if (await used.rejected(req, sent)) return true;
      return refresh();
    },
  };
}
