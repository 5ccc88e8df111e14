/**
 * Every AWS call of the rehearsal, checked against the caller's role as
 * packaged, with `@cloud-copilot/iam-simulate` (AWS's evaluation logic:
 * explicit deny, allow, condition operators, ARN wildcards) rather than a
 * hand-written matcher, and recorded, so the report can count the calls
 * per role and the deploy test can derive the grants from them.
 */
import { runSimulation } from "@cloud-copilot/iam-simulate";
import type { RoleSpec, Stack } from "./template";

/** One AWS call as the stand-ins saw it. */
export interface AwsCall {
  role: string;
  /** The function whose container made it. */
  fn: string;
  action: string;
  resource: string;
  allowed: boolean;
  /** The request's condition keys (`dynamodb:LeadingKeys`, `kms:ViaService`). */
  context: Record<string, string | string[]>;
  /** Why not, when not allowed. */
  reason?: string;
}

export interface Authorizer {
  /** The role a rehearsal access key id belongs to. */
  roleOfKey(accessKeyId: string): RoleSpec | undefined;
  /** Load the evaluator's data for these actions once, before any call is timed. */
  warmUp(actions: string[]): Promise<void>;
  /** Check one call, record it, and say whether IAM would allow it. */
  check(call: { accessKeyId: string; fn: string; action: string; resource: string; context?: Record<string, string | string[]> }): Promise<AwsCall>;
  calls: AwsCall[];
}

/** The fake credentials a function's containers get: one access key per role, so a call names its role. */
export function credentialsFor(role: RoleSpec): { accessKeyId: string; secretAccessKey: string; sessionToken: string } {
  const tag = role.logicalId.replace(/[^A-Za-z0-9]/g, "").toUpperCase();
  return { accessKeyId: `ASIAREHEARSAL${tag}`, secretAccessKey: `rehearsal-secret-${tag}`, sessionToken: `rehearsal-session-${tag}` };
}

/**
 * KMS evaluates the key's policy too: a customer managed key created with
 * the default key policy delegates to IAM ("Enable IAM User Permissions"),
 * which is what docs/deploy-aws.md assumes.
 */
const defaultKeyPolicy = (accountId: string, partition: string) => ({
  Version: "2012-10-17",
  Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: `arn:${partition}:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" }],
});

function simulate(stack: Stack, principal: string, action: string, resource: string, context: Record<string, string | string[]>, policies: RoleSpec["policies"]) {
  return runSimulation(
    {
      request: { principal, action, resource: { resource, accountId: stack.accountId }, contextVariables: context },
      identityPolicies: policies.map((p) => ({ name: p.name, policy: p.policy })),
      ...(action.startsWith("kms:") ? { resourcePolicy: defaultKeyPolicy(stack.accountId, stack.partition) } : {}),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
}

/** What IAM answers for one call of `role` (a simulation, nothing recorded). */
export async function isAllowed(stack: Stack, role: Pick<RoleSpec, "arn" | "policies">, action: string, resource: string, context: Record<string, string | string[]> = {}): Promise<boolean> {
  const r = await simulate(stack, role.arn, action, resource, context, role.policies);
  return r.resultType === "single" && r.overallResult === "Allowed";
}

export function createAuthorizer(stack: Stack, roles: RoleSpec[]): Authorizer {
  const byKey = new Map(roles.map((r) => [credentialsFor(r).accessKeyId, r] as const));
  const calls: AwsCall[] = [];
  const verdicts = new Map<string, string>();
  return {
    calls,
    async warmUp(actions) {
      for (const a of actions) await simulate(stack, `arn:${stack.partition}:iam::${stack.accountId}:role/warm-up`, a, "*", {}, []);
    },
    roleOfKey: (k) => byKey.get(k),
    async check({ accessKeyId, fn, action, resource, context = {} }) {
      const role = byKey.get(accessKeyId);
      if (!role) {
        const c = { role: "(unknown key)", fn, action, resource, context, allowed: false, reason: `unknown access key ${accessKeyId}` };
        calls.push(c);
        return c;
      }
      // The same call recurs hundreds of times: evaluate each distinct one once.
      const key = JSON.stringify([role.logicalId, action, resource, context]);
      let result = verdicts.get(key);
      if (result === undefined) {
        const r = await simulate(stack, role.arn, action, resource, context, role.policies);
        result = r.resultType === "single" ? r.overallResult : r.resultType === "error" ? `error: ${r.errors.message}` : "wildcard";
        verdicts.set(key, result);
      }
      const allowed = result === "Allowed";
      const c: AwsCall = { role: role.logicalId, fn, action, resource, context, allowed, ...(allowed ? {} : { reason: String(result) }) };
      calls.push(c);
      return c;
    },
  };
}

/** `role -> "action resource" -> count`, for the report; `expected`: denials the scenario made on purpose. */
export function callsPerRole(calls: AwsCall[], expected: AwsCall[] = []): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const c of calls) {
    const key = `${c.allowed ? "" : expected.includes(c) ? "DENIED (on purpose) " : "DENIED "}${c.action} ${c.resource}`;
    const role = (out[c.role] ??= {});
    role[key] = (role[key] ?? 0) + 1;
  }
  return out;
}
