/** The configuration error an environment gives, for tests of what stops the start. */
import { ConfigError, loadConfig } from "../../lib/platform/config";

/** The {@link ConfigError} `env` makes `loadConfig` throw; fails the test when it loads. */
export function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}
