/**
 * The grants a stack needs, derived from the calls a rehearsal saw, and the
 * grants its roles hold that no call needed. A grant is one action of one
 * Allow statement; it is needed when at least one recorded call of that
 * role is allowed by that statement alone (same evaluator, same condition
 * keys as the call had).
 */
import { type AwsCall, isAllowed } from "./policy";
import type { RoleSpec, Stack } from "./template";

/**
 * Actions Lambda itself performs with the function's role, not the code:
 * the runtime writes the function's logs. The rehearsal cannot see them.
 */
export const LAMBDA_SERVICE_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"];

export interface Grant {
  role: string;
  action: string;
  resource: string;
  /** The statement's condition, if any (JSON). */
  condition?: string;
}

// Policy statements are untyped JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Statement = any;

/** Every (action, resource) an Allow statement of `role` grants. */
export function grantsOf(role: RoleSpec): Array<Grant & { statement: Statement }> {
  return role.policies.flatMap((p) =>
    p.policy.Statement.filter((s: Statement) => s.Effect === "Allow").flatMap((s: Statement) =>
      [s.Action].flat().flatMap((action: string) =>
        [s.Resource].flat().map((resource: string) => ({ role: role.logicalId, action, resource, ...(s.Condition ? { condition: JSON.stringify(s.Condition) } : {}), statement: s })),
      ),
    ),
  );
}

/** The calls' distinct (role, action, resource, condition keys): what the code needs. */
export function neededGrants(calls: AwsCall[]): string[] {
  return [...new Set(calls.map((c) => `${c.role} ${c.action} ${c.resource}${Object.keys(c.context).length ? " " + JSON.stringify(c.context) : ""}`))].sort();
}

/** Grants of `roles` that no recorded call needed (Lambda's own log writes excepted). */
export async function unusedGrants(stack: Stack, roles: RoleSpec[], calls: AwsCall[]): Promise<Grant[]> {
  const unused: Grant[] = [];
  for (const role of roles) {
    for (const g of grantsOf(role)) {
      if (LAMBDA_SERVICE_ACTIONS.includes(g.action)) continue;
      const only = { arn: role.arn, policies: [{ name: "one-grant", policy: { Version: "2012-10-17", Statement: [{ ...g.statement, Action: g.action, Resource: g.resource }] } }] };
      let used = false;
      for (const c of calls) {
        if (c.role !== role.logicalId || c.action !== g.action) continue;
        if (await isAllowed(stack, only, c.action, c.resource, c.context)) {
          used = true;
          break;
        }
      }
      if (!used) unused.push({ role: g.role, action: g.action, resource: g.resource, ...(g.condition ? { condition: g.condition } : {}) });
    }
  }
  return unused;
}
