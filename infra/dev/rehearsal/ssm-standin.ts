/**
 * SSM Parameter Store as the functions see it in the rehearsal: the calls
 * the service makes (`GetParametersByPath`, `GetParameter`, `GetParameters`),
 * SigV4-verified and checked against the caller's role on the parameter (or
 * path) ARN, with SSM's page size of 10. When the SecureStrings are
 * encrypted with a customer managed key, each decryption is also checked as
 * the `kms:Decrypt` SSM makes on the caller's behalf (`kms:ViaService`).
 */
import type { Authorizer } from "./policy";
import type { Stack } from "./template";
import { awsJsonError, listenLoopback, readBody } from "./http-util";
import { verifySigV4 } from "./sigv4";

export interface SsmStandInOptions {
  stack: Stack;
  auth: Authorizer;
  fnOfKey: (accessKeyId: string) => string;
  secretOf: (accessKeyId: string) => string | undefined;
  /** Parameter name -> value, every one a SecureString. */
  parameters: Map<string, string>;
  /** ARN of the customer managed key the SecureStrings are encrypted with; none: aws/ssm. */
  kmsKeyArn?: string;
}

const JSON11 = "application/x-amz-json-1.1";

export async function startSsmStandIn(o: SsmStandInOptions) {
  const arnOf = (name: string) => `arn:${o.stack.partition}:ssm:${o.stack.region}:${o.stack.accountId}:parameter${name.startsWith("/") ? "" : "/"}${name}`;
  const param = (name: string) => ({ Name: name, Type: "SecureString", Value: o.parameters.get(name)!, Version: 1, ARN: arnOf(name), DataType: "text" });

  return listenLoopback(async (req, res) => {
    const body = await readBody(req);
    const sig = verifySigV4({ method: req.method ?? "POST", url: req.url ?? "/", headers: req.headers, body }, { service: "ssm", region: o.stack.region, secretOf: o.secretOf });
    if (!sig.ok) return awsJsonError(res, 400, "UnrecognizedClientException", `rehearsal: ${sig.reason}`, JSON11);
    const op = String(req.headers["x-amz-target"] ?? "").replace(/^AmazonSSM\./, "");
    const input = JSON.parse(body.toString("utf8") || "{}") as Record<string, unknown>;
    const fn = o.fnOfKey(sig.accessKeyId);
    const allow = async (action: string, resource: string, context: Record<string, string> = {}) =>
      (await o.auth.check({ accessKeyId: sig.accessKeyId, fn, action, resource, context })).allowed;
    const denied = (action: string, resource: string) =>
      awsJsonError(res, 400, "AccessDeniedException", `User: ${fn} is not authorized to perform: ${action} on resource: ${resource}`, JSON11);
    // SSM decrypts with the key on the caller's behalf: the caller's role needs kms:Decrypt via SSM.
    const decrypt = async (n: number) => {
      if (!o.kmsKeyArn || !input.WithDecryption || n === 0) return true;
      return allow("kms:Decrypt", o.kmsKeyArn, { "kms:ViaService": `ssm.${o.stack.region}.amazonaws.com` });
    };

    if (op === "GetParametersByPath") {
      const path = "/" + String(input.Path ?? "").replace(/^\/+|\/+$/g, "");
      if (!(await allow("ssm:GetParametersByPath", arnOf(path)))) return denied("ssm:GetParametersByPath", arnOf(path));
      const names = [...o.parameters.keys()]
        .filter((n) => n.startsWith(path + "/") && (input.Recursive === true || !n.slice(path.length + 1).includes("/")))
        .sort();
      const from = Number(input.NextToken ?? 0);
      const size = Math.min(Number(input.MaxResults ?? 10), 10);
      const page = names.slice(from, from + size);
      if (!(await decrypt(page.length))) return denied("kms:Decrypt", o.kmsKeyArn!);
      res.writeHead(200, { "content-type": JSON11 });
      return res.end(JSON.stringify({ Parameters: page.map(param), ...(from + size < names.length ? { NextToken: String(from + size) } : {}) }));
    }
    if (op === "GetParameter" || op === "GetParameters") {
      const names = op === "GetParameter" ? [String(input.Name)] : (input.Names as string[]);
      for (const n of names) if (!(await allow(`ssm:${op}`, arnOf(n)))) return denied(`ssm:${op}`, arnOf(n));
      const found = names.filter((n) => o.parameters.has(n));
      if (!(await decrypt(found.length))) return denied("kms:Decrypt", o.kmsKeyArn!);
      if (op === "GetParameter") {
        if (!found.length) return awsJsonError(res, 400, "ParameterNotFound", names[0]!, JSON11);
        res.writeHead(200, { "content-type": JSON11 });
        return res.end(JSON.stringify({ Parameter: param(found[0]!) }));
      }
      res.writeHead(200, { "content-type": JSON11 });
      return res.end(JSON.stringify({ Parameters: found.map(param), InvalidParameters: names.filter((n) => !o.parameters.has(n)) }));
    }
    return awsJsonError(res, 400, "InvalidAction", `rehearsal: SSM ${op} is not modelled`, JSON11);
  });
}
