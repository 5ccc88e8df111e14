/**
 * The parts of undici this service uses (Agent, the request API, the
 * connector), imported from their own modules. undici's index loads fetch,
 * WebSocket, EventSource, caches and mocks as well, about 240 KiB of every
 * bundle that nothing here calls; the types stay undici's public ones.
 * Pinned undici version: see package.json (7.x, whose layout these paths follow).
 */
import type * as Undici from "undici";
import AgentImpl from "undici/lib/dispatcher/agent.js";
import buildConnectorImpl from "undici/lib/core/connect.js";
import requestImpl from "undici/lib/api/api-request.js";
import { parseHeaders as parseHeadersImpl } from "undici/lib/core/util.js";

/** undici's header parsing: raw pairs into the object its request API answers with. */
export const parseHeaders = parseHeadersImpl;

export type { Dispatcher } from "undici";

/** undici's `Agent`: a pool of connections per origin. */
export const Agent: typeof Undici.Agent = AgentImpl;

/** undici's `buildConnector`, for connectors that check addresses (see `notify/ssrf-guard.ts`). */
export const buildConnector: typeof Undici.buildConnector = buildConnectorImpl;

/**
 * undici's `request(url, options)` over an explicit dispatcher: the same
 * answer shape, without the global dispatcher.
 */
export function request(
  url: string | URL,
  opts: Omit<Undici.Dispatcher.RequestOptions, "origin" | "path"> & { dispatcher: Undici.Dispatcher },
): Promise<Undici.Dispatcher.ResponseData> {
  const u = typeof url === "string" ? new URL(url) : url;
  const { dispatcher, ...rest } = opts;
  return requestImpl.call(dispatcher, { ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
