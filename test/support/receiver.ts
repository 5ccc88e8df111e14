/** A recording HTTP receiver on 127.0.0.1 standing in for Slack or a webhook endpoint. */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { onTestFinished } from "vitest";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface ScriptedReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Replies used in order, one per request; afterwards `fallback`. */
  replies: ScriptedReply[];
  fallback: ScriptedReply;
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: Array<() => void> = [];
  const r: Partial<Receiver> = { received, replies: [], fallback: { status: 200, body: "ok" } };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      const reply = r.replies!.shift() ?? r.fallback!;
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? "");
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const { port } = server.address() as AddressInfo;
  r.url = `http://127.0.0.1:${port}`;
  r.waitFor = async (n, timeoutMs = 15_000) => {
    const until = Date.now() + timeoutMs;
    while (received.length < n) {
      if (Date.now() > until) throw new Error(`receiver got ${received.length} of ${n} requests`);
      await new Promise<void>((ok) => {
        waiters.push(ok);
        setTimeout(ok, 100);
      });
    }
    return received;
  };
  r.close = () =>
    new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return r as Receiver;
}

/** A receiver of the running test's own, closed when that test ends. */
export async function useReceiver(): Promise<Receiver> {
  const r = await startReceiver();
  onTestFinished(() => r.close());
  return r;
}
