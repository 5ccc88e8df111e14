/**
 * The rehearsal's webhook receiver: a loopback HTTP endpoint that verifies
 * every delivery with `standardwebhooks` (signature, timestamp) and records
 * the outcome, so the rehearsal fails on a delivery a real receiver would reject.
 */
import { Webhook } from "standardwebhooks";
import { listenLoopback, readBody } from "./http-util";

export interface Delivery {
  id: string;
  verified: boolean;
  error?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  payload: any;
}

export async function startWebhookReceiver(secret: string) {
  const wh = new Webhook(secret.replace(/^whsec_/, ""));
  const deliveries: Delivery[] = [];
  const waiters: Array<() => void> = [];
  const server = await listenLoopback(async (req, res) => {
    const body = (await readBody(req)).toString("utf8");
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const id = headers["webhook-id"] ?? "";
    try {
      deliveries.push({ id, verified: true, payload: wh.verify(body, headers) });
      res.writeHead(204).end();
    } catch (e) {
      deliveries.push({ id, verified: false, error: e instanceof Error ? e.message : String(e), payload: null });
      res.writeHead(400).end("signature");
    }
    for (const w of waiters.splice(0)) w();
  });
  return {
    url: server.url,
    deliveries,
    close: server.close,
    /** Resolves when `n` deliveries arrived, or with what there is at `deadline` (epoch ms). */
    async waitFor(n: number, deadline: number): Promise<Delivery[]> {
      while (deliveries.length < n && Date.now() < deadline) {
        await new Promise<void>((ok) => {
          waiters.push(ok);
          setTimeout(ok, Math.max(0, Math.min(1000, deadline - Date.now())));
        });
      }
      return deliveries;
    },
  };
}
