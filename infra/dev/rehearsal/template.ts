/**
 * The packaged CloudFormation template as the rehearsal needs it: each
 * function (name, handler, memory, timeout, environment, role, reserved
 * concurrency) and each role's policy, with the intrinsic functions resolved
 * for one made-up account, region and partition, as CloudFormation would.
 */
import { readFileSync } from "node:fs";

// CloudFormation templates are untyped JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface Stack {
  accountId: string;
  region: string;
  partition: string;
  /** Parameter values: the template's defaults, then the overrides. */
  parameters: Record<string, string>;
}

export interface FunctionSpec {
  logicalId: string;
  name: string;
  arn: string;
  handler: string;
  memoryMb: number;
  timeoutS: number;
  environment: Record<string, string>;
  roleLogicalId: string;
  roleArn: string;
  reservedConcurrency: number | null;
  /** From the function's EventInvokeConfig: async retries (Lambda's default is 2). */
  maxRetryAttempts: number;
}

export interface RoleSpec {
  logicalId: string;
  arn: string;
  /** Each inline policy, resolved: `{ Version, Statement }`. */
  policies: Array<{ name: string; policy: { Version: string; Statement: Json[] } }>;
}

export interface PackagedStack {
  stack: Stack;
  template: Json;
  functions: FunctionSpec[];
  roles: RoleSpec[];
  /** Route keys of the HTTP API (`GET /tasks/{task_id}`). */
  routes: string[];
  /** Per route key, the function its integration invokes. */
  routeFunctions: Record<string, string>;
  /** The schedule of each function with one (`rate(1 minute)`), by function logical id. */
  schedules: Record<string, string>;
  /** Each function URL (AuthType NONE) as the rehearsal names it, with the function it invokes. */
  functionUrls: Record<string, string>;
  /** SSM parameters the stack itself writes (`READ_URL`), by name, resolved. */
  ssmParameters: Record<string, string>;
}

const NO_VALUE = Symbol("AWS::NoValue");

/** Physical names of the stack's resources as CloudFormation would give them. */
function physical(id: string, res: Json, stackName: string, s: Stack): { ref: string; arn: string } {
  const p = res.Properties ?? {};
  const at = `${s.region}:${s.accountId}`;
  switch (res.Type) {
    case "AWS::DynamoDB::Table":
      return { ref: p.TableName, arn: `arn:${s.partition}:dynamodb:${at}:table/${p.TableName}` };
    case "AWS::Lambda::Function":
      return { ref: p.FunctionName, arn: `arn:${s.partition}:lambda:${at}:function:${p.FunctionName}` };
    case "AWS::IAM::Role": {
      const name = p.RoleName ?? `${stackName}-${id}`.slice(0, 64);
      return { ref: name, arn: `arn:${s.partition}:iam::${s.accountId}:role/${name}` };
    }
    case "AWS::Logs::LogGroup":
      return { ref: p.LogGroupName, arn: `arn:${s.partition}:logs:${at}:log-group:${p.LogGroupName}:*` };
    case "AWS::SNS::Topic":
      return { ref: `arn:${s.partition}:sns:${at}:${stackName}-${id}`, arn: `arn:${s.partition}:sns:${at}:${stackName}-${id}` };
    default:
      return { ref: `${stackName}-${id}`, arn: `arn:${s.partition}:cloudformation:${at}:resource/${id}` };
  }
}

/** Resolve Ref, Fn::GetAtt (Arn), Fn::Sub, Fn::Join, Fn::Split, Fn::If, Fn::Select and the pseudo parameters. */
export function resolver(template: Json, stack: Stack, stackName: string): (v: Json) => Json {
  const pseudo: Record<string, string> = {
    "AWS::AccountId": stack.accountId,
    "AWS::Region": stack.region,
    "AWS::Partition": stack.partition,
    "AWS::StackName": stackName,
    "AWS::URLSuffix": stack.partition === "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com",
  };
  const ref = (name: string): Json => {
    if (name === "AWS::NoValue") return NO_VALUE;
    if (name in pseudo) return pseudo[name];
    if (name in stack.parameters) return stack.parameters[name];
    const res = template.Resources[name];
    if (!res) throw new Error(`unresolvable Ref ${name}`);
    return physical(name, res, stackName, stack).ref;
  };
  const getAtt = (name: string, attr: string): Json => {
    const res = template.Resources[name];
    if (!res) throw new Error(`unresolvable Fn::GetAtt ${name}.${attr}`);
    if (attr === "Arn") return physical(name, res, stackName, stack).arn;
    if (attr === "ApiEndpoint" && res.Type === "AWS::ApiGatewayV2::Api") return `https://${stackName}-${name}.execute-api.${stack.region}.amazonaws.com`.toLowerCase();
    throw new Error(`Fn::GetAtt ${name}.${attr} is not modelled`);
  };
  const condition = (name: string): boolean => resolve(template.Conditions?.[name]) === true;
  const resolve = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(resolve).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== "object") return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const a = v[k];
      switch (k) {
        case "Ref":
          return ref(a);
        case "Fn::GetAtt":
          return getAtt(...((typeof a === "string" ? a.split(".") : a) as [string, string]));
        case "Fn::Join":
          return (resolve(a[1]) as string[]).join(a[0]);
        case "Fn::Split":
          return String(resolve(a[1])).split(a[0]);
        case "Fn::Select":
          return resolve(a[1])[Number(resolve(a[0]))];
        case "Fn::Sub": {
          const [text, vars] = typeof a === "string" ? [a, {}] : [a[0], resolve(a[1])];
          return (text as string).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (name in vars) return String(vars[name]);
            if (name.includes(".")) return String(getAtt(...(name.split(".") as [string, string])));
            return String(ref(name));
          });
        }
        case "Fn::If":
          return resolve(condition(a[0]) ? a[1] : a[2]);
        case "Fn::Equals":
          return resolve(a[0]) === resolve(a[1]);
        case "Fn::Not":
          return !resolve(a[0]);
        case "Fn::And":
          return a.every((c: Json) => resolve(c) === true);
        case "Fn::Or":
          return a.some((c: Json) => resolve(c) === true);
        case "Condition":
          return condition(a);
      }
    }
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = resolve(x);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  };
  return resolve;
}

/** Read `cloudformation-template-update-stack.json` and resolve what the rehearsal runs. */
export function readPackagedStack(
  file: string,
  opts: { accountId?: string; region?: string; partition?: string; parameters?: Record<string, string>; stackName?: string } = {},
): PackagedStack {
  const template: Json = JSON.parse(readFileSync(file, "utf8"));
  const parameters: Record<string, string> = {};
  for (const [k, p] of Object.entries<Json>(template.Parameters ?? {})) parameters[k] = String(p.Default ?? "");
  Object.assign(parameters, opts.parameters ?? {});
  const stack: Stack = {
    accountId: opts.accountId ?? "123456789012",
    region: opts.region ?? "eu-central-1",
    partition: opts.partition ?? "aws",
    parameters,
  };
  const stackName = opts.stackName ?? "apig-taskwatch-dev";
  const resolve = resolver(template, stack, stackName);
  const resources = Object.entries<Json>(template.Resources);
  const ofType = (t: string) => resources.filter(([, r]) => r.Type === t);

  const retries = new Map<string, number>();
  for (const [, c] of ofType("AWS::Lambda::EventInvokeConfig")) retries.set(c.Properties.FunctionName.Ref, c.Properties.MaximumRetryAttempts ?? 2);

  const functions: FunctionSpec[] = ofType("AWS::Lambda::Function").map(([id, r]) => {
    const p = resolve(r.Properties);
    const roleLogicalId: string = r.Properties.Role["Fn::GetAtt"]?.[0] ?? "";
    return {
      logicalId: id,
      name: p.FunctionName,
      arn: `arn:${stack.partition}:lambda:${stack.region}:${stack.accountId}:function:${p.FunctionName}`,
      handler: p.Handler,
      memoryMb: p.MemorySize ?? 128,
      timeoutS: p.Timeout ?? 3,
      environment: Object.fromEntries(Object.entries<Json>(p.Environment?.Variables ?? {}).map(([k, v]) => [k, String(v)])),
      roleLogicalId,
      roleArn: p.Role,
      reservedConcurrency: p.ReservedConcurrentExecutions ?? null,
      maxRetryAttempts: retries.get(id) ?? 2,
    };
  });
  const roles: RoleSpec[] = ofType("AWS::IAM::Role").map(([id, r]) => ({
    logicalId: id,
    arn: physical(id, r, stackName, stack).arn,
    policies: (resolve(r.Properties.Policies ?? []) as Json[]).map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument })),
  }));
  const routes = ofType("AWS::ApiGatewayV2::Route").map(([, r]) => r.Properties.RouteKey as string);
  // Route -> integration -> the function it invokes (the API may split routes over functions).
  const fnOfIntegration = new Map(
    ofType("AWS::ApiGatewayV2::Integration").map(([id, r]) => [id, functions.find((f) => f.logicalId === r.Properties.IntegrationUri?.["Fn::GetAtt"]?.[0])?.name ?? ""]),
  );
  const routeFunctions: Record<string, string> = {};
  for (const [, r] of ofType("AWS::ApiGatewayV2::Route")) {
    const integration = JSON.stringify(r.Properties.Target ?? "").match(/"Ref":"(\w+)"/)?.[1] ?? "";
    routeFunctions[r.Properties.RouteKey] = fnOfIntegration.get(integration) ?? "";
  }
  const schedules: Record<string, string> = {};
  for (const [, rule] of ofType("AWS::Events::Rule")) {
    for (const t of rule.Properties.Targets ?? []) {
      const target = t.Arn?.["Fn::GetAtt"]?.[0];
      if (target && rule.Properties.ScheduleExpression) schedules[target] = rule.Properties.ScheduleExpression;
    }
  }
  // Function URLs: a made-up host per function stands for the one Lambda gives.
  const urlOf = new Map<string, string>();
  const functionUrls: Record<string, string> = {};
  for (const [id, u] of ofType("AWS::Lambda::Url")) {
    const fn = functions.find((f) => f.logicalId === u.Properties.TargetFunctionArn?.["Fn::GetAtt"]?.[0]);
    if (!fn || u.Properties.AuthType !== "NONE") continue;
    const url = `https://${fn.name}.lambda-url.${stack.region}.on.aws/`;
    urlOf.set(id, url);
    functionUrls[url] = fn.name;
  }
  const ssmParameters: Record<string, string> = {};
  for (const [, r] of ofType("AWS::SSM::Parameter")) {
    const v = r.Properties.Value;
    const att = v?.["Fn::GetAtt"];
    ssmParameters[resolve(r.Properties.Name)] = att?.[1] === "FunctionUrl" ? (urlOf.get(att[0]) ?? "") : String(resolve(v));
  }
  return { stack, template, functions, roles, routes, routeFunctions, schedules, functionUrls, ssmParameters };
}
