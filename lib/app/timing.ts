/**
 * The poller's time budget, derived in one place from the settings it depends
 * on, so the lease, the reserve, the loop length and the Lambda timeout cannot
 * drift apart. `serverless.yml`'s poller timeout is checked against
 * {@link pollerTiming} by the deploy tests.
 *
 * Handover (`handover.ts`): an invocation polls until its successor has
 * started and taken over, not until a fixed time before the next schedule,
 * so there is no minute boundary without polls. A schedule runs "within its
 * minute, not on the 0th second" (EventBridge's documented precision), so a
 * successor may come seconds late, or not at all (dropped, throttled): the
 * loop then keeps polling for at most {@link LATE_SUCCESSOR_MS} past the
 * next scheduled start, and the Lambda timeout covers that.
 */

/** One notification try: 15 s, as documented (docs/api.md, "Notifications"). The sender's timeout. */
export const SEND_TIMEOUT_MS = 15_000;
/** One IAM token fetch, every try and Retry-After wait included; the token provider gives up at this. */
export const IAM_FETCH_BUDGET_MS = 12_000;
/** A DynamoDB write, with the SDK's own retries. */
const WRITE_MS = 5_000;
/** How long past the next scheduled start an invocation keeps polling while no successor has taken over. */
export const LATE_SUCCESSOR_MS = 15_000;
/** From this long before the next scheduled start, the loop looks for its successor (a late invocation's successor may come early). */
export const SUCCESSOR_EARLY_MS = 10_000;
/** How often the loop looks for its successor's round (one small consistent read), and a successor for its predecessor's release. */
export const HANDOVER_CHECK_MS = 500;
/** The longest a successor waits for its predecessor to let go (it sees the new round within a check, then writes): past it, the predecessor is gone. */
export const HANDOVER_WAIT_MS = 3_000;

export interface PollerTiming {
  /** The schedule's period: one invocation's share of the polling, as the fan-out plans it. */
  loopMs: number;
  /** The longest one invocation polls: until its successor takes over, at most the period plus {@link LATE_SUCCESSOR_MS}. */
  coverMs: number;
  /**
   * The longest one watch can take once started: an IAM token fetch, an APIG
   * query retried once after a 401, the transition's write, a round of
   * notification tries (in parallel) and the write recording them. No watch is started with less
   * than this left of the Lambda's time.
   */
  reserveMs: number;
  /** How long the writer that ended a watch owns its deliveries: a round of tries and its write, twice over. */
  leaseMs: number;
  /** The Lambda timeout the poller needs, in seconds. */
  lambdaTimeoutS: number;
}

export function pollerTiming(c: { pollIntervalS: number; apigTimeoutMs: number }): PollerTiming {
  const loopMs = Math.max(1_000, c.pollIntervalS * 1000);
  const coverMs = loopMs + LATE_SUCCESSOR_MS;
  const reserveMs = IAM_FETCH_BUDGET_MS + 2 * c.apigTimeoutMs + WRITE_MS + SEND_TIMEOUT_MS + WRITE_MS;
  const leaseMs = 2 * (SEND_TIMEOUT_MS + WRITE_MS);
  return { loopMs, coverMs, reserveMs, leaseMs, lambdaTimeoutS: Math.ceil((coverMs + reserveMs) / 1000) + 5 };
}
