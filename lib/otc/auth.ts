/**
 * The three ways to authenticate to OTC, as {@link AuthProvider}s for the
 * APIG client: AK/SK request signing, an IAM user token, a static token.
 */
import type { Dispatcher } from "undici";
import { type AuthProvider, staticTokenAuth } from "./apig-client";
import type { Config } from "../platform/config";
import { createIamTokenProvider } from "./iam-token";
import { signRequest } from "./signer";

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
export function authFor(config: Config, dispatcher: Dispatcher, iamEndpoint: string = config.iamEndpoint): AuthProvider {
  const a = config.auth;
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
