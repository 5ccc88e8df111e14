/** Small HTTP helpers shared by the rehearsal's stand-ins. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => ok(Buffer.concat(chunks)));
    req.on("error", fail);
  });
}

/** An AWS JSON-protocol error answer (`__type` names the error class the SDK throws). */
export function awsJsonError(res: ServerResponse, status: number, type: string, message: string, contentType = "application/x-amz-json-1.0"): void {
  res.writeHead(status, { "content-type": contentType, "x-amzn-requestid": crypto.randomUUID() });
  res.end(JSON.stringify({ __type: type, message, Message: message }));
}

/** A loopback server on an ephemeral port; `close` also drops idle keep-alive connections. */
export async function listenLoopback(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handle);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
