/**
 * Cold-start setup shared by the Lambda handlers: configuration and clients
 * built once per container, retried on the next invocation if it failed.
 */
import { type Config, loadConfig } from "./config";
import type { ApiDeps } from "./http-api";
import { jsonLogger } from "./log";
import { buildDeps } from "./runtime";

export type Boot = { ok: true; deps: ApiDeps; config: Config } | { ok: false; error: Error };

/** A memoised loader of the process's dependencies from `process.env`. */
export function lazyDeps(env: NodeJS.ProcessEnv = process.env): () => Promise<Boot> {
  let boot: Promise<Boot> | undefined;
  const load = async (): Promise<Boot> => {
    try {
      const config = loadConfig(env);
      return { ok: true, config, deps: buildDeps(config) };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      jsonLogger().error("config_error", { error: error.message });
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
