// Types of the undici modules `undici.ts` imports one by one; their public
// types are undici's own (`import type ... from "undici"`).
declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici";
  const AgentImpl: typeof Agent;
  export default AgentImpl;
}
declare module "undici/lib/core/connect.js" {
  import type { buildConnector } from "undici";
  const buildConnectorImpl: typeof buildConnector;
  export default buildConnectorImpl;
}
declare module "undici/lib/api/api-request.js" {
  import type { Dispatcher } from "undici";
  const requestImpl: (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
  export default requestImpl;
}
declare module "undici/lib/core/util.js" {
  import type { IncomingHttpHeaders } from "node:http";
  /** Raw header pairs (names and values as Buffers or strings) into an object, as undici's request API gives them. */
  export function parseHeaders(headers: Array<Buffer | string | Array<Buffer | string>>, obj?: IncomingHttpHeaders): IncomingHttpHeaders;
}
