/**
 * The poller's time budget, derived in one place from the settings it depends
 * on, so the lease, the reserve, the loop length and the Lambda timeout cannot
 * drift apart. `serverless.yml`'s poller timeout is checked against
 * {@link pollerTiming} by the deploy tests.
 */

/** One notification try at most: the sender's timeout, on which the lease and the reserve are sized. */
export const SEND_TIMEOUT_MS = 15_000;
/** A DynamoDB write, with the SDK's own retries. */
const WRITE_MS = 5_000;
/** The loop ends this long before the next scheduled invocation starts. */
const HANDOVER_MS = 2_000;

export interface PollerTiming {
  /** How long one invocation's loop starts polls: until shortly before the next invocation. */
  loopMs: number;
  /**
   * The longest one watch can take once started: an APIG query retried once
   * after a 401, the transition's write, a round of notification tries (in
   * parallel) and the write recording them. No watch is started with less
   * than this left of the Lambda's time.
   */
  reserveMs: number;
  /** How long the writer that ended a watch owns its deliveries: a round of tries and its write, twice over. */
  leaseMs: number;
  /** The Lambda timeout the poller needs, in seconds. */
  lambdaTimeoutS: number;
}

export function pollerTiming(c: { pollIntervalS: number; apigTimeoutMs: number }): PollerTiming {
  const loopMs = Math.max(1_000, c.pollIntervalS * 1000 - HANDOVER_MS);
  const reserveMs = 2 * c.apigTimeoutMs + WRITE_MS + SEND_TIMEOUT_MS + WRITE_MS;
  const leaseMs = 2 * (SEND_TIMEOUT_MS + WRITE_MS);
  return { loopMs, reserveMs, leaseMs, lambdaTimeoutS: Math.ceil((loopMs + reserveMs) / 1000) + 5 };
}
