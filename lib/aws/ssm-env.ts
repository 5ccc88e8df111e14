/**
 * Secrets from SSM Parameter Store: every parameter under one path whose last
 * segment names a secret variable (`/apig-taskwatch/prod/OTC_SECRET_KEY`)
 * becomes that variable for `loadConfig`. Read at cold start and again after
 * SECRETS_TTL_S or an OTC refusal (`bootstrap.ts`); never written to
 * `process.env`, never logged.
 */
import { SecretsError } from "../domain/errors";
import { GetParametersByPathCommand, type SSMClient } from "@aws-sdk/client-ssm";
/** The process environment, or a copy of it. */
export type Env = Record<string, string | undefined>;

/**
 * The variables that may come from SSM; anything else under the path is
 * ignored, so a stray `/…/PATH` or `/…/TABLE_NAME` cannot redirect the service.
 * The non-secret members (`OTC_USERNAME`, `OTC_DOMAIN_NAME`,
 * `DEFAULT_WEBHOOK_URL`) travel with their secret partner so one place holds
 * the whole credential set; `OTC_CREDENTIALS` holds one in a single
 * parameter, so a rotation can never be read half done.
 */
export const SECRET_VARIABLES = [
  "OTC_CREDENTIALS",
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
  // The key of the MAC on list cursors: a secret, so in AWS it comes from SSM like the others.
  "CURSOR_SECRET",
  // Scopes and credential sets per tenant: read again with the keys, so a
  // tenant's key, scope and set change together without a redeploy.
  "TENANT_PROJECTS",
  "TENANT_CREDENTIALS",
  // Not a secret: the read function's URL, which the stack writes here
  // because no function can name its own URL in its environment.
  "READ_URL",
] as const;

export type SecretVariable = (typeof SECRET_VARIABLES)[number];

/** The part of the SSM client this needs, so tests can pass a fake. */
export type SsmLike = Pick<SSMClient, "send">;

/** The parameters under the path are ambiguous; the message names parameters, never values. */

/**
 * The environment with the secrets under `prefix` laid over it. Reads the
 * whole subtree (recursive, decrypted, every page); a parameter's last path
 * segment is the variable it sets.
 * @param prefix e.g. `/apig-taskwatch/prod/`
 * @throws {@link SecretsError} when two parameters under the path set the same variable
 */
export async function withSsmSecrets(env: Env, ssm: SsmLike, prefix: string): Promise<Env> {
  const path = "/" + prefix.replace(/^\/+|\/+$/g, "");
  const found = new Map<string, string>();
  const from = new Map<string, string>();
  const allowed = new Set<string>(SECRET_VARIABLES);
  let token: string | undefined;
  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({ Path: path, Recursive: true, WithDecryption: true, NextToken: token }),
    );
    for (const p of page.Parameters ?? []) {
      if (p.Name === undefined || typeof p.Value !== "string") continue;
      const name = p.Name.slice(p.Name.lastIndexOf("/") + 1);
      if (!allowed.has(name)) continue;
      // Two parameters for one variable (`/x/OTC_SECRET_KEY` and
      // `/x/old/OTC_SECRET_KEY`): which one wins would depend on SSM's
      // ordering, so refuse rather than guess.
      const earlier = from.get(name);
      if (earlier !== undefined) throw new SecretsError(`${earlier} and ${p.Name} both set ${name}`);
      from.set(name, p.Name);
      found.set(name, p.Value);
    }
    token = page.NextToken;
  } while (token);
  return { ...env, ...Object.fromEntries(found) };
}
