/**
 * Keeps notification connections away from private, loopback, link-local,
 * metadata and other reserved addresses: the target-URL policy
 * (`domain/target-url.ts`) checked inside the connector, on the very address
 * the socket is opened to (DNS rebinding cannot swap it in between).
 */
import { SSRF_BLOCKED, SsrfBlockedError } from "../domain/errors";
import { classifyAddress } from "../domain/target-url";
import dns, { type LookupAddress } from "node:dns";
import net from "node:net";
import type * as Undici from "undici";
import { Agent, buildConnector } from "../net/undici";

export { SSRF_BLOCKED };
// ---------------------------------------------------------------------------
// Connection-time guard
// ---------------------------------------------------------------------------

/** The shape of `dns.lookup` the guard calls (`dns.lookup` itself fits). */
export type LookupAll = (
  hostname: string,
  options: { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface GuardOptions {
  /** Skip the address check (local runs and tests only); resolution still goes through `lookup`. */
  allowPrivate: boolean;
  /** Resolver; `dns.lookup` by default. Tests pass their own. */
  lookup?: LookupAll;
  /** Per connection attempt, default 10 s; also bounds the DNS lookup. */
  connectTimeoutMs?: number;
  /** Extra trusted CA certificates (PEM), for local receivers with their own CA; replaces the default roots. */
  ca?: string;
}

/**
 * An undici connector that resolves the host itself, refuses the connection
 * with `ERR_SSRF_BLOCKED` if ANY resolved address is not allowed, and else
 * connects to those checked addresses, never to the name: a second, different
 * DNS answer (rebinding) has no chance to be used. TLS still verifies the
 * certificate against the original host name (SNI / servername).
 */
export function guardedConnector(opts: GuardOptions): Undici.buildConnector.connector {
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  const base = buildConnector({ timeout: timeoutMs, ...(opts.ca !== undefined ? { ca: opts.ca } : {}) });
  const lookup: LookupAll = opts.lookup ?? dns.lookup;

  return (options, callback) => {
    const hostname = options.hostname.startsWith("[") ? options.hostname.slice(1, -1) : options.hostname;
    resolve(hostname, lookup, timeoutMs, (err, addresses) => {
      if (err !== null) return callback(err, null);
      if (addresses.length === 0) return callback(new Error(`no address for ${hostname}`), null);
      if (!opts.allowPrivate) {
        for (const a of addresses) {
          const verdict = classifyAddress(a);
          if (!verdict.allowed) {
            return callback(new SsrfBlockedError(`refused to connect to ${hostname} (${a}): ${verdict.reason}`), null);
          }
        }
      }
      // `host` stays the original so undici derives SNI and its TLS session
      // key from the name; only the socket goes to the checked address.
      const attempt = (i: number): void => {
        base({ ...options, hostname: addresses[i] ?? "" }, (connectErr, socket) => {
          if (connectErr === null) return callback(null, socket);
          // Try the next checked address (e.g. IPv6 listed first but unroutable).
          if (i + 1 < addresses.length && !(connectErr instanceof SsrfBlockedError)) return attempt(i + 1);
          callback(connectErr, null);
        });
      };
      attempt(0);
    });
  };
}

function resolve(
  hostname: string,
  lookup: LookupAll,
  timeoutMs: number,
  done: (err: Error | null, addresses: string[]) => void,
): void {
  // An IP literal needs no resolver, and a fake resolver need not know it.
  if (net.isIP(hostname) !== 0) return done(null, [hostname]);
  let finished = false;
  // dns.lookup has no timeout of its own; a hung resolver must not hang the try.
  const timer = setTimeout(() => {
    if (finished) return;
    finished = true;
    done(Object.assign(new Error(`DNS lookup of ${hostname} timed out`), { code: "ETIMEOUT" }), []);
  }, timeoutMs);
  timer.unref();
  try {
    lookup(hostname, { all: true }, (err, addresses) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (err) return done(err, []);
      done(null, [...new Set(addresses.map((a) => a.address))]);
    });
  } catch (err) {
    finished = true;
    clearTimeout(timer);
    done(err instanceof Error ? err : new Error(String(err)), []);
  }
}

/**
 * The dispatcher for notification deliveries: an undici `Agent` whose every
 * connection goes through `guardedConnector`, with keep-alive. Redirects are
 * not followed (undici follows none unless a redirect interceptor is added).
 */
export function createGuardedAgent(opts: GuardOptions): Undici.Agent {
  return new Agent({
    connect: guardedConnector(opts),
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    connections: 16,
  });
}
