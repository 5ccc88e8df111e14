/**
 * DynamoDB as the functions see it in the rehearsal: dynalite behind a
 * proxy that verifies each request's SigV4 signature, turns it into the IAM
 * action (`X-Amz-Target`) and resource ARN(s) (`TableName`, `IndexName`,
 * the tables of batch and transaction calls) plus `dynamodb:LeadingKeys`,
 * checks it against the caller's role, and answers AccessDeniedException,
 * as DynamoDB would, or forwards it to dynalite.
 */
import { request } from "node:http";
import type { Authorizer } from "./policy";
import type { Stack } from "./template";
import { awsJsonError, listenLoopback, readBody } from "./http-util";
import { verifySigV4 } from "./sigv4";

// DynamoDB's request bodies are untyped JSON here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface DynamoProxyOptions {
  dynalite: string;
  stack: Stack;
  auth: Authorizer;
  /** The function whose role owns an access key (for the call ledger). */
  fnOfKey: (accessKeyId: string) => string;
  secretOf: (accessKeyId: string) => string | undefined;
  /** The partition key attribute of each table, for `dynamodb:LeadingKeys`. */
  partitionKeyOf: (table: string) => string | undefined;
}

/** The `:value` a key condition `pk = :v` (or `#n = :v`) gives the partition key, if it names it. */
function leadingKeyOfQuery(body: Json, pk: string): string | undefined {
  const expr: string = body.KeyConditionExpression ?? "";
  const names: Record<string, string> = body.ExpressionAttributeNames ?? {};
  for (const m of expr.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const attr = m[1]!.startsWith("#") ? names[m[1]!] : m[1];
    if (attr === pk) return scalar(body.ExpressionAttributeValues?.[m[2]!]);
  }
  return undefined;
}
const scalar = (v: Json): string | undefined => (v && typeof v === "object" ? (v.S ?? v.N ?? v.B) : undefined);

export async function startDynamoProxy(o: DynamoProxyOptions) {
  const target = new URL(o.dynalite);
  const arn = (table: string, index?: string) =>
    `arn:${o.stack.partition}:dynamodb:${o.stack.region}:${o.stack.accountId}:table/${table}${index ? `/index/${index}` : ""}`;

  /** Every (resource, LeadingKeys) pair one call touches. */
  function resourcesOf(op: string, body: Json): Array<{ resource: string; leading?: string }> {
    const one = (table: string, key?: Json): { resource: string; leading?: string } => {
      const pk = o.partitionKeyOf(table);
      const lead = pk && key ? scalar(key[pk]) : undefined;
      return { resource: arn(table), ...(lead !== undefined ? { leading: lead } : {}) };
    };
    if (op === "BatchGetItem" || op === "BatchWriteItem") {
      return Object.entries<Json>(body.RequestItems ?? {}).flatMap(([t, v]) =>
        op === "BatchGetItem" ? v.Keys.map((k: Json) => one(t, k)) : v.map((w: Json) => one(t, w.PutRequest?.Item ?? w.DeleteRequest?.Key)),
      );
    }
    if (op.startsWith("Transact")) {
      return (body.TransactItems ?? []).map((t: Json) => {
        const x = t.Get ?? t.Put ?? t.Update ?? t.Delete ?? t.ConditionCheck;
        return one(x.TableName, x.Key ?? x.Item);
      });
    }
    if (op === "Query" || op === "Scan") {
      if (body.IndexName) return [{ resource: arn(body.TableName, body.IndexName) }];
      const pk = o.partitionKeyOf(body.TableName);
      const lead = op === "Query" && pk ? leadingKeyOfQuery(body, pk) : undefined;
      return [{ resource: arn(body.TableName), ...(lead !== undefined ? { leading: lead } : {}) }];
    }
    return [one(body.TableName, body.Key ?? body.Item)];
  }

  return listenLoopback(async (req, res) => {
    const body = await readBody(req);
    const op = String(req.headers["x-amz-target"] ?? "").replace(/^DynamoDB_\d+\./, "");
    const sig = verifySigV4({ method: req.method ?? "POST", url: req.url ?? "/", headers: req.headers, body }, { service: "dynamodb", region: o.stack.region, secretOf: o.secretOf });
    if (!sig.ok) return awsJsonError(res, 400, "com.amazon.coral.service#UnrecognizedClientException", `rehearsal: ${sig.reason}`);
    let parsed: Json;
    try {
      parsed = JSON.parse(body.toString("utf8") || "{}");
    } catch {
      return awsJsonError(res, 400, "com.amazon.coral.service#SerializationException", "not JSON");
    }
    for (const r of resourcesOf(op, parsed)) {
      const call = await o.auth.check({
        accessKeyId: sig.accessKeyId,
        fn: o.fnOfKey(sig.accessKeyId),
        action: `dynamodb:${op}`,
        resource: r.resource,
        context: r.leading !== undefined ? { "dynamodb:LeadingKeys": [r.leading] } : {},
      });
      if (!call.allowed) {
        return awsJsonError(
          res,
          400,
          "com.amazon.coral.service#AccessDeniedException",
          `User: ${call.role} is not authorized to perform: dynamodb:${op} on resource: ${r.resource} because no identity-based policy allows the dynamodb:${op} action`,
        );
      }
    }
    const fwd = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 500, up.headers);
        up.pipe(res);
      },
    );
    fwd.on("error", (e) => awsJsonError(res, 500, "com.amazonaws.dynamodb.v20120810#InternalServerError", e.message));
    fwd.end(body);
  });
}
