/**
 * The rehearsal's stand-in for an AWS account: the packaged stack (`osls
 * package`, once, with one EventBridge bus allowed), each function's zip
 * unzipped, dynalite behind the policy proxy, the SSM stand-in holding the
 * stage's secrets, the EventBridge stand-in, the Lambda invoke endpoint, the
 * APIG simulator and a webhook receiver, all on 127.0.0.1.
 * The functions' containers get the template's environment with local
 * values only where AWS would give other ones (endpoints, credentials, the
 * APIG simulator for OTC), every such value listed in `overrides`.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startApigSimulator } from "../apig-simulator";
import { localDynamoClient, startDynalite } from "../local/dynalite-server";
import { ensureTable } from "../../table";
import table from "../../table.json";
import { type Invocation, LambdaService, type LogLine } from "./containers";
import { startDynamoProxy } from "./dynamo-proxy";
import { startEventBridgeStandIn } from "./eventbridge-standin";
import { startLambdaEndpoint } from "./lambda-endpoint";
import { type Authorizer, createAuthorizer, credentialsFor } from "./policy";
import { startSsmStandIn } from "./ssm-standin";
import { type FunctionSpec, type PackagedStack, readPackagedStack } from "./template";
import { startWebhookReceiver } from "./webhook-receiver";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..", "..");

/**
 * The bus the rehearsal packages with (`--param eventBridgeBusArns`), in the
 * made-up account and region the template is resolved for (template.ts).
 */
export const REHEARSAL_BUS = "arn:aws:events:eu-central-1:123456789012:event-bus/rehearsal-deployments";

export interface StackOptions {
  /**
   * A directory holding an `osls package` output to reuse; default: package
   * now into a temporary one, with `--param eventBridgeBusArns=`{@link REHEARSAL_BUS}
   * (a reused package should be made so too: without a bus, the EventBridge step fails).
   */
  packageDir?: string;
  /** Environment values laid over the template's (after the local endpoints), e.g. a shorter POLL_INTERVAL_S. */
  env?: Record<string, string>;
  /** Template parameter overrides for the rehearsal's resolution (e.g. SsmKmsKeyArn). */
  parameters?: Record<string, string>;
  onLog?: (line: LogLine) => void;
}

/** `osls package --stage dev` offline (no credentials, a fresh HOME) into `dir`. */
export async function packageStack(dir: string, args: string[] = []): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "rehearsal-home-"));
  try {
    await run("npx", ["osls", "package", "--stage", "dev", "--package", dir, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: home }, timeout: 300_000 });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export const TENANT = "acme";

export async function startRehearsalStack(o: StackOptions = {}) {
  const closers: Array<() => Promise<void> | void> = [];
  const work = mkdtempSync(join(tmpdir(), "rehearsal-"));
  closers.push(() => rmSync(work, { recursive: true, force: true }));
  try {
    const pkg = o.packageDir ?? join(work, "package");
    if (!o.packageDir) await packageStack(pkg, ["--param", `eventBridgeBusArns=${REHEARSAL_BUS}`]);
    const stack: PackagedStack = readPackagedStack(join(pkg, "cloudformation-template-update-stack.json"), { parameters: o.parameters ?? {} });
    for (const f of stack.functions) {
      const dir = join(work, "task", f.name);
      mkdirSync(dir, { recursive: true });
      const zip = join(pkg, `${f.logicalId.replace(/LambdaFunction$/, "").replace(/^./, (c) => c.toLowerCase())}.zip`);
      await run("python3", ["-m", "zipfile", "-e", zip, dir]);
    }

    const dynamo = await startDynalite();
    closers.push(() => dynamo.close());
    const tableName = stack.functions[0]!.environment.TABLE_NAME!;
    const admin = localDynamoClient(dynamo.endpoint, stack.stack.region);
    await ensureTable(admin, tableName);
    admin.destroy();

    const auth: Authorizer = createAuthorizer(stack.stack, stack.roles);
    await auth.warmUp(["dynamodb:GetItem", "dynamodb:Query", "ssm:GetParametersByPath", "lambda:InvokeFunction", "kms:Decrypt", "events:PutEvents"]);
    const fnOfRole = new Map(stack.functions.map((f) => [f.roleLogicalId, f.name] as const));
    const fnOfKey = (k: string) => fnOfRole.get(auth.roleOfKey(k)?.logicalId ?? "") ?? "(unknown)";
    const secretOf = (k: string) => {
      const role = auth.roleOfKey(k);
      return role ? credentialsFor(role).secretAccessKey : undefined;
    };
    const hashKey = table.KeySchema.find((k) => k.KeyType === "HASH")!.AttributeName;
    const proxy = await startDynamoProxy({ dynalite: dynamo.endpoint, stack: stack.stack, auth, fnOfKey, secretOf, partitionKeyOf: (t) => (t === tableName ? hashKey : undefined) });
    closers.push(() => proxy.close());

    // OTC stand-in: the APIG simulator, taking AK/SK signatures.
    const otc = { accessKey: "REHEARSALAK", secretKey: randomBytes(20).toString("hex") };
    const apig = await startApigSimulator({ auth: otc });
    closers.push(() => apig.close());

    const webhookSecret = `whsec_${randomBytes(32).toString("base64")}`;
    const receiver = await startWebhookReceiver(webhookSecret);
    closers.push(() => receiver.close());

    // The stage's secrets, as an operator puts them (docs/deploy-aws.md), plus
    // parameters the service must ignore, enough to need a second page.
    const apiKey = randomBytes(24).toString("base64url");
    const prefix = stack.functions[0]!.environment.SSM_PREFIX!.replace(/\/?$/, "/");
    const parameters = new Map<string, string>([
      [`${prefix}API_KEYS`, `${TENANT}:${createHash("sha256").update(apiKey).digest("hex")}`],
      [`${prefix}OTC_CREDENTIALS`, JSON.stringify({ access_key: otc.accessKey, secret_key: otc.secretKey })],
      [`${prefix}CURSOR_SECRET`, randomBytes(24).toString("base64url")],
      ...Array.from({ length: 10 }, (_, i) => [`${prefix}notes/unrelated-${i}`, "ignored"] as [string, string]),
      // What the stack writes itself (READ_URL, the read function's URL).
      ...Object.entries(stack.ssmParameters),
    ]);
    const kmsKeyArn = stack.stack.parameters.SsmKmsKeyArn || undefined;
    const ssm = await startSsmStandIn({ stack: stack.stack, auth, fnOfKey, secretOf, parameters, ...(kmsKeyArn ? { kmsKeyArn } : {}) });
    closers.push(() => ssm.close());

    const eventBridge = await startEventBridgeStandIn({ stack: stack.stack, auth, fnOfKey, secretOf });
    closers.push(() => eventBridge.close());

    const egress: Array<{ fn: string; host: string; port: number }> = [];
    const asyncRuns: Array<Promise<Invocation>> = [];
    let lambdaUrl = "";
    const region = stack.stack.region;
    const otcRegion = stack.functions[0]!.environment.OTC_REGION || "eu-de";
    /** What the rehearsal sets instead of AWS (or OTC): printed with the report. */
    const overrides: Record<string, string> = {
      AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
      AWS_ENDPOINT_URL_SSM: ssm.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
      AWS_ENDPOINT_URL_LAMBDA: "(the rehearsal's invoke endpoint)",
      APIG_ENDPOINTS: `${otcRegion}=${apig.url}`,
      IAM_ENDPOINTS: `${otcRegion}=${apig.url}`,
      // The webhook receiver is an http endpoint on loopback.
      ALLOW_PRIVATE_TARGETS: "true",
      ...o.env,
    };
    const lambda = new LambdaService({
      functions: stack.functions,
      taskRoot: (f) => join(work, "task", f.name),
      onEgress: (fn, host, port) => egress.push({ fn, host, port }),
      ...(o.onLog ? { onLog: o.onLog } : {}),
      environment: (f: FunctionSpec, container: number) => {
        const role = stack.roles.find((r) => r.logicalId === f.roleLogicalId)!;
        const c = credentialsFor(role);
        return {
          // Lambda's own variables.
          PATH: "/usr/local/bin:/usr/bin:/bin",
          LANG: "en_US.UTF-8",
          TZ: ":UTC",
          LAMBDA_TASK_ROOT: join(work, "task", f.name),
          _HANDLER: f.handler,
          AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
          AWS_REGION: region,
          AWS_DEFAULT_REGION: region,
          AWS_LAMBDA_FUNCTION_NAME: f.name,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memoryMb),
          AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
          AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${f.name}`,
          AWS_LAMBDA_LOG_STREAM_NAME: `rehearsal/[$LATEST]${container}`,
          AWS_ACCESS_KEY_ID: c.accessKeyId,
          AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
          AWS_SESSION_TOKEN: c.sessionToken,
          // The template's.
          ...f.environment,
          ...overrides,
          AWS_ENDPOINT_URL_LAMBDA: lambdaUrl,
        };
      },
    });
    closers.push(() => lambda.close());
    const invokeEndpoint = await startLambdaEndpoint({ stack: stack.stack, auth, lambda, fnOfKey, secretOf, started: asyncRuns });
    closers.push(() => invokeEndpoint.close());
    lambdaUrl = invokeEndpoint.url;
    overrides.AWS_ENDPOINT_URL_LAMBDA = lambdaUrl;

    return {
      stack,
      auth,
      lambda,
      apig,
      receiver,
      eventBridge,
      webhookSecret,
      apiKey,
      egress,
      asyncRuns,
      overrides,
      async close() {
        for (const c of closers.reverse()) await c();
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c();
    throw err;
  }
}

export type RehearsalStack = Awaited<ReturnType<typeof startRehearsalStack>>;
