/**
 * Secrets from SSM Parameter Store: every SecureString under one path whose
 * last segment names a secret variable (`/apig-taskwatch/prod/OTC_SECRET_KEY`)
 * becomes that variable for `loadConfig`. Read once per cold start; never
 * written to `process.env`, never logged.
 */
import { GetParametersByPathCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { Env } from "./config";

/** The variables that may come from SSM; anything else under the path is ignored. */
export const SECRET_VARIABLES = [
  "OTC_ACCESS_KEY",
  "OTC_SECRET_KEY",
  "OTC_USERNAME",
  "OTC_PASSWORD",
  "OTC_DOMAIN_NAME",
  "OTC_AUTH_TOKEN",
  "API_KEYS",
  "SLACK_WEBHOOK_URL",
  "DEFAULT_WEBHOOK_URL",
  "DEFAULT_WEBHOOK_SECRET",
] as const;

/** The part of the SSM client this needs, so tests can pass a fake. */
export type SsmLike = Pick<SSMClient, "send">;

/**
 * The environment with the secrets under `prefix` laid over it.
 * @param prefix e.g. `/apig-taskwatch/prod/`
 */
export async function withSsmSecrets(env: Env, ssm: SsmLike, prefix: string): Promise<Env> {
  const path = prefix.replace(/\/+$/, "");
  const out: Env = { ...env };
  const allowed = new Set<string>(SECRET_VARIABLES);
  let token: string | undefined;
  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({ Path: path, WithDecryption: true, Recursive: false, NextToken: token }),
    );
    for (const p of page.Parameters ?? []) {
      const name = p.Name?.slice(path.length + 1);
      if (name !== undefined && allowed.has(name) && typeof p.Value === "string") out[name] = p.Value;
    }
    token = page.NextToken;
  } while (token);
  return out;
}
