/**
 * Cold-start setup shared by the Lambda handlers: secrets (from SSM when
 * SSM_PREFIX is set), configuration and clients, built once per container
 * and retried on the next invocation if it failed.
 */
import { SSMClient } from "@aws-sdk/client-ssm";
import { type Config, loadConfig } from "./config";
import { buildDeps, type ServiceDeps } from "./runtime";
import { jsonLogger } from "./log";
import { withSsmSecrets } from "./ssm-env";

export type Boot = { ok: true; deps: ServiceDeps; config: Config } | { ok: false; error: Error };

/** A memoised loader of the process's dependencies from `process.env` (and SSM). */
export function lazyDeps(env: NodeJS.ProcessEnv = process.env): () => Promise<Boot> {
  let boot: Promise<Boot> | undefined;
  const load = async (): Promise<Boot> => {
    try {
      const prefix = env.SSM_PREFIX?.trim();
      const full = prefix ? await secretsFromSsm(env, prefix) : env;
      const config = loadConfig(full);
      return { ok: true, config, deps: buildDeps(config) };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      // Config errors name variables, SDK errors name parameters: no values.
      jsonLogger().error("config_error", { error: `${error.name}: ${error.message}`.slice(0, 500) });
      return { ok: false, error };
    }
  };
  return () => {
    if (!boot) {
      const b = load();
      boot = b;
      // Do not cache a failure: the next invocation tries again.
      void b.then((r) => {
        if (!r.ok && boot === b) boot = undefined;
      });
    }
    return boot;
  };
}

/** One read of the secrets per cold start; the client is not kept around. */
async function secretsFromSsm(env: NodeJS.ProcessEnv, prefix: string): Promise<NodeJS.ProcessEnv> {
  const ssm = new SSMClient({ maxAttempts: 3 });
  try {
    return await withSsmSecrets(env, ssm, prefix);
  } finally {
    ssm.destroy();
  }
}
