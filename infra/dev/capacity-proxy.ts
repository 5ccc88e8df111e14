/**
 * The capacity meter on the wire: an HTTP proxy in front of dynalite that
 * bills every DynamoDB request passing through it (see `capacity-meter.ts`),
 * so processes we do not hold a client of (the real Lambda handlers, run as
 * the local stack runs them) can be metered too. For the benchmark only.
 *
 * The old item of each PutItem is read first with the SDK client (signed, as
 * dynalite requires: an unsigned request without `X-Amz-Date` is refused, and
 * a refused read used to look like "no old item", charging every index on
 * every write and ignoring the old item's size).
 */
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { type CapacityTotals, chargePut, chargeRead, emptyTotals, TABLE_KEYS } from "./capacity-meter";
import { localDynamoClient } from "./local/dynalite-server";

type Item = Parameters<typeof chargeRead>[1][number];

function forward(target: URL, headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(target, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Start the proxy; point DYNAMODB_ENDPOINT at `url`. */
export async function startCapacityProxy(dynamoEndpoint: string): Promise<{ url: string; totals: CapacityTotals; reset(): void; close(): Promise<void> }> {
  const target = new URL(dynamoEndpoint);
  let totals = emptyTotals();
  const reader = localDynamoClient(dynamoEndpoint);
  const oldItem = async (table: string, key: Item): Promise<Item | undefined> =>
    (await reader.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item as Item | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
      totals.commands[op] = (totals.commands[op] ?? 0) + 1;
      try {
        const input = JSON.parse(body.toString("utf8") || "{}") as { TableName: string; Item?: Item; ConsistentRead?: boolean };
        let before: Item | undefined;
        if (op === "PutItem" && input.Item) {
          const item = input.Item;
          const Key: Item = Object.fromEntries(TABLE_KEYS.flatMap((k) => (item[k] ? [[k, item[k]]] : [])));
          before = await oldItem(input.TableName, Key);
        }
        const out = await forward(target, req.headers, body);
        if (op === "PutItem" && input.Item) chargePut(totals, before, input.Item, out.status === 200);
        if (out.status === 200 && (op === "GetItem" || op === "Query")) {
          const parsed = JSON.parse(out.body.toString("utf8")) as { Item?: Item; Items?: Item[] };
          chargeRead(totals, op === "GetItem" ? (parsed.Item ? [parsed.Item] : []) : (parsed.Items ?? []), input.ConsistentRead === true);
        }
        if (out.status === 200 && op === "BatchGetItem") {
          // Each item of a batch is charged on its own, rounded up to 4 KB.
          const parsed = JSON.parse(out.body.toString("utf8")) as { Responses?: Record<string, Item[]> };
          const asked = (input as { RequestItems?: Record<string, { ConsistentRead?: boolean }> }).RequestItems ?? {};
          for (const [t, its] of Object.entries(parsed.Responses ?? {})) for (const it of its) chargeRead(totals, [it], asked[t]?.ConsistentRead === true);
        }
        res.writeHead(out.status, out.headers).end(out.body);
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get totals() {
      return totals;
    },
    reset() {
      totals = emptyTotals();
    },
    close: () =>
      new Promise<void>((ok) => {
        reader.destroy();
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
