/**
 * The poller's fan-out wiring: asynchronous invocations of the poller itself
 * (the role may invoke only its own function), at the endpoint the SDKs would
 * use, retried 3 times with full-jitter backoff on 429, 5xx and network errors.
 */
import type { WorkerInvoker } from "../app/poller-invocation";
import { DEFAULT_INVOKE_RETRY, lambdaEndpoint, lambdaEnvCredentials, lambdaInvoker, withInvokeRetry } from "../aws/lambda-invoke";
import { Agent } from "../net/undici";

/** Starts workers as the function named in Lambda's environment, or undefined outside Lambda (no fan-out). */
export function selfInvoker(env: NodeJS.ProcessEnv = process.env): WorkerInvoker | undefined {
  const name = env.AWS_LAMBDA_FUNCTION_NAME;
  const aws = lambdaEnvCredentials(env);
  if (!name || !aws) return undefined;
  const once = lambdaInvoker({ functionName: name, ...aws, endpoint: lambdaEndpoint(env, aws.region), dispatcher: new Agent({ connections: 16 }) });
  const invoke = withInvokeRetry(once, {
    ...DEFAULT_INVOKE_RETRY,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    random: Math.random,
  });
  return { invoke };
}
