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
  /** Why not, when not allowed. */
  reason?: string;
}

export interface Authorizer {
  /** The role a rehearsal access key id belongs to. */
  roleOfKey(accessKeyId: string): RoleSpec | undefined;
  /** Check one call, record it, and say whether IAM would allow it. */
  check(call: { accessKeyId: string; fn: string; action: string; resource: string; context?: Record<string, string | string[]> }): Promise<AwsCall>;
  calls: AwsCall[];
}

/** The fake credentials a function's containers get: one access key per role, so a call names its role. */
export function credentialsFor(role: RoleSpec): { accessKeyId: string; secretAccessKey: string; sessionToken: string } {
  const tag = role.logicalId.replace(/[^A-Za-z0-9]/g, "").toUpperCase();
  return { accessKeyId: `ASIAREHEARSAL${tag}`, secretAccessKey: `rehearsal-secret-${tag}`, sessionToken: `rehearsal-session-${tag}` };
}

export function createAuthorizer(stack: Stack, roles: RoleSpec[]): Authorizer {
  const byKey = new Map(roles.map((r) => [credentialsFor(r).accessKeyId, r] as const));
  const calls: AwsCall[] = [];
  return {
    calls,
    roleOfKey: (k) => byKey.get(k),
    async check({ accessKeyId, fn, action, resource, context = {} }) {
      const role = byKey.get(accessKeyId);
      if (!role) {
        const c = { role: "(unknown key)", fn, action, resource, allowed: false, reason: `unknown access key ${accessKeyId}` };
        calls.push(c);
        return c;
      }
      const r = await runSimulation(
        {
          request: {
            principal: role.arn,
            action,
            resource: { resource, accountId: stack.accountId },
            contextVariables: context,
          },
          identityPolicies: role.policies.map((p) => ({ name: p.name, policy: p.policy })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      const result = r.resultType === "single" ? r.overallResult : r.resultType === "error" ? `error: ${r.errors.message}` : "wildcard";
      const allowed = result === "Allowed";
      const c: AwsCall = { role: role.logicalId, fn, action, resource, allowed, ...(allowed ? {} : { reason: String(result) }) };
      calls.push(c);
      return c;
    },
  };
}

/** `role -> "action resource" -> count`, for the report. */
export function callsPerRole(calls: AwsCall[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const c of calls) {
    const key = `${c.allowed ? "" : "DENIED "}${c.action} ${c.resource}`;
    const role = (out[c.role] ??= {});
    role[key] = (role[key] ?? 0) + 1;
  }
  return out;
}
