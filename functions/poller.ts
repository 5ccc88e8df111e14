/** Lambda handler of the poller: scheduled once a minute, and its own fan-out workers. */
import { createPollerHandler } from "../lib/platform/poller-handler";

export const handler = createPollerHandler(process.env);

/** Stop the running loop soon (the local stack's shutdown); Lambda never calls it. */
export const stopPolling = (): void => handler.stop();
