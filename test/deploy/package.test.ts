/**
 * `npm run package` (osls, offline, no AWS credentials) and assertions on what
 * it produces: the CloudFormation template and the two function bundles, which
 * must load and answer from the zip alone.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDynalite } from "../../infra/dev/local/dynalite-server";
import { ensureTable } from "../../infra/table";
import table from "../../infra/table.json";
import { SECRET_VARIABLES } from "../../lib/platform/ssm-env";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const out = (f: string) => join(root, ".serverless", f);
// A CloudFormation template is untyped JSON.
type Res = { Type: string; Properties: Record<string, any> };
let template: { Resources: Record<string, Res>; Outputs: Record<string, unknown>; Parameters: Record<string, { Default: string }> };
const ofType = (t: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === t);

/** What the functions may see in their environment: configuration, never a secret. */
const PLAIN_ENV = [
  "NODE_OPTIONS",
  "SERVICE_NAME",
  "TABLE_NAME",
  "SSM_PREFIX",
  "OTC_REGION",
  "APIG_ENDPOINT",
  "IAM_ENDPOINT",
  "RETENTION_DAYS",
  "NOT_FOUND_GRACE_S",
  "DEFAULT_TIMEOUT_S",
  "NOTIFY_RETRY_S",
  "POLL_INTERVAL_S",
];

beforeAll(async () => {
  // No credentials, no profile, a HOME without ~/.aws: packaging must work offline.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: mkdtempSync(join(tmpdir(), "home-")) };
  await run("npm", ["run", "package", "--silent"], { cwd: root, env, timeout: 240_000 });
  template = JSON.parse(readFileSync(out("cloudformation-template-update-stack.json"), "utf8"));
}, 300_000);

describe("packaged stack", () => {
  it("runs every function on nodejs24.x / arm64 with log retention, timeouts within their triggers' limits", () => {
    const fns = Object.fromEntries(ofType("AWS::Lambda::Function"));
    expect(Object.keys(fns).sort()).toEqual(["ApiLambdaFunction", "PollerLambdaFunction"]);
    for (const f of Object.values(fns)) {
      expect(f.Properties.Runtime).toBe("nodejs24.x");
      expect(f.Properties.Architectures).toEqual(["arm64"]);
      expect(f.Properties.MemorySize).toBe(512);
    }
    expect(fns.ApiLambdaFunction!.Properties.Handler).toBe("functions/api.handler");
    expect(fns.PollerLambdaFunction!.Properties.Handler).toBe("functions/poller.handler");
    // API Gateway gives up on an integration after 30 s.
    expect(fns.ApiLambdaFunction!.Properties.Timeout).toBeLessThan(30);
    expect(fns.PollerLambdaFunction!.Properties.Timeout).toBe(120);
    const groups = ofType("AWS::Logs::LogGroup");
    expect(groups.length).toBe(2);
    for (const [, g] of groups) expect(g.Properties.RetentionInDays).toBe(30);
  });

  it("defines the table from infra/table.json with PITR, encryption, deletion protection and TTL", () => {
    const tables = ofType("AWS::DynamoDB::Table");
    expect(tables.length).toBe(1);
    const [, t] = tables[0]!;
    expect(t.Properties).toMatchObject({
      TableName: "apig-taskwatch-dev-watches",
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      DeletionProtectionEnabled: true,
      TimeToLiveSpecification: { AttributeName: "expires_at", Enabled: true },
    });
    expect(t.Properties.KeySchema).toEqual(table.KeySchema);
    expect(t.Properties.AttributeDefinitions).toEqual(table.AttributeDefinitions);
    expect(t.Properties.GlobalSecondaryIndexes).toEqual(table.GlobalSecondaryIndexes);
    expect(t.Properties.LocalSecondaryIndexes).toEqual(table.LocalSecondaryIndexes);
    expect(t.Properties.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)).toEqual(["due"]);
    expect(t.Properties.LocalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)).toEqual(["by_created"]);
    expect((tables[0]![1] as Res & { DeletionPolicy?: string }).DeletionPolicy).toBe("Retain");
  });

  it("schedules the poller every minute without Lambda retries and routes every API path to the api function", () => {
    const rules = ofType("AWS::Events::Rule");
    expect(rules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(["rate(1 minute)"]);
    expect(JSON.stringify(rules[0]![1].Properties.Targets)).toContain("PollerLambdaFunction");
    const [[, invoke]] = ofType("AWS::Lambda::EventInvokeConfig") as [[string, Res]];
    expect(invoke.Properties.MaximumRetryAttempts).toBe(0);
    const routes = ofType("AWS::ApiGatewayV2::Route").map(([, r]) => r.Properties.RouteKey).sort();
    expect(routes).toEqual([
      "DELETE /tasks/{task_id}",
      "GET /health",
      "GET /openapi.json",
      "GET /tasks",
      "GET /tasks/{task_id}",
      "POST /exports",
      "POST /imports",
      "POST /tasks",
      "POST /tasks/{task_id}/redeliver",
    ]);
    expect(JSON.stringify(ofType("AWS::ApiGatewayV2::Integration"))).toContain("ApiLambdaFunction");
    expect(Object.keys(template.Outputs)).toContain("HttpApiUrl");
  });

  it("grants each function only the actions it uses, on named resources: no wildcard, no Scan", () => {
    const roles = ofType("AWS::IAM::Role");
    expect(roles.map(([id]) => id).sort()).toEqual(["ApiRole", "PollerRole"]);
    const grants: Record<string, string[]> = {};
    for (const [id, role] of roles) {
      expect(role.Properties.ManagedPolicyArns ?? [], id).toEqual([]);
      for (const p of role.Properties.Policies) {
        for (const raw of p.PolicyDocument.Statement) {
          // The KMS statement sits behind a condition: take its "when set" branch.
          const s = raw["Fn::If"] ? raw["Fn::If"][1] : raw;
          expect(s.Effect).toBe("Allow");
          const actions: string[] = [s.Action].flat();
          for (const a of actions) expect(a, `${id} action`).not.toMatch(/\*|Scan/);
          expect(JSON.stringify(s.Resource), `${id} resource`).not.toMatch(/\*/);
          const resource = JSON.stringify(s.Resource).includes("index")
            ? JSON.stringify(s.Resource).match(/"index","(\w+)"/)![1]!
            : JSON.stringify(s.Resource).match(/WatchTable|LogGroup|parameter|SsmKmsKeyArn/)![0]!;
          for (const a of actions) (grants[id] ??= []).push(`${a} on ${resource}`);
        }
      }
    }
    expect(grants.PollerRole!.sort()).toEqual([
      "dynamodb:PutItem on WatchTable",
      "dynamodb:Query on due",
      "kms:Decrypt on SsmKmsKeyArn",
      "logs:CreateLogStream on LogGroup",
      "logs:PutLogEvents on LogGroup",
      "ssm:GetParametersByPath on parameter",
    ]);
    expect(grants.ApiRole!.sort()).toEqual([
      "dynamodb:GetItem on WatchTable",
      "dynamodb:PutItem on WatchTable",
      "dynamodb:Query on by_created",
      "kms:Decrypt on SsmKmsKeyArn",
      "logs:CreateLogStream on LogGroup",
      "logs:PutLogEvents on LogGroup",
      "ssm:GetParametersByPath on parameter",
    ]);
  });

  it("reads secrets only under the stage's SSM path, and decrypts only through SSM", () => {
    for (const id of ["ApiRole", "PollerRole"]) {
      const stmts = template.Resources[id]!.Properties.Policies[0].PolicyDocument.Statement;
      const ssm = stmts.find((s: { Action: string[] }) => s.Action?.[0] === "ssm:GetParametersByPath");
      expect(ssm.Resource["Fn::Sub"]).toBe("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/apig-taskwatch/dev");
      const kms = stmts.find((s: Record<string, unknown>) => s["Fn::If"]);
      expect(kms["Fn::If"][0]).toBe("HasSsmKmsKey");
      expect(kms["Fn::If"][1].Condition).toEqual({ StringEquals: { "kms:ViaService": { "Fn::Sub": "ssm.${AWS::Region}.amazonaws.com" } } });
    }
    // Default: the aws/ssm key, whose key policy already admits calls via SSM.
    expect(template.Parameters.SsmKmsKeyArn!.Default).toBe("");
  });

  it("puts no secret in the environment, only plain settings and SSM_PREFIX to find the secrets", () => {
    for (const [id, f] of ofType("AWS::Lambda::Function")) {
      const vars: Record<string, string> = f.Properties.Environment.Variables;
      expect(Object.keys(vars).filter((k) => !PLAIN_ENV.includes(k)), id).toEqual([]);
      for (const secret of SECRET_VARIABLES) expect(vars).not.toHaveProperty(secret);
      expect(vars.SSM_PREFIX).toBe("/apig-taskwatch/dev/");
    }
  });

  it("has alarms on poller errors, dead deliveries, backlog age and API 5xx, without actions by default", () => {
    const alarms = ofType("AWS::CloudWatch::Alarm");
    expect(alarms.map(([, a]) => `${a.Properties.Namespace}/${a.Properties.MetricName}`).sort()).toEqual([
      "AWS/ApiGateway/5xx",
      "AWS/Lambda/Errors",
      "ApigTaskwatch/DeadDeliveries",
      "ApigTaskwatch/OldestDueAgeSeconds",
    ]);
    for (const [, a] of alarms) expect(a.Properties.AlarmActions).toEqual({ "Fn::If": ["HasAlarmTopic", [{ Ref: "AlarmTopicArn" }], { Ref: "AWS::NoValue" }] });
    expect(template.Parameters.AlarmTopicArn!.Default).toBe("");
    const filters = ofType("AWS::Logs::MetricFilter");
    expect(filters.map(([, f]) => f.Properties.FilterPattern)).toEqual(['{ $.event = "delivery_dead" }', '{ $.event = "delivery_dead" }']);
    for (const [, f] of filters) {
      // CloudWatch rejects a transformation with both at deploy time.
      for (const t of f.Properties.MetricTransformations) expect(t.DefaultValue !== undefined && t.Dimensions !== undefined).toBe(false);
    }
  });

  it.each(["api", "poller"])("packages %s as one bundle with its source map, at most 700 KiB zipped and 1,000 KiB of .mjs: no node_modules, no .ts", async (fn) => {
    expect(statSync(out(`${fn}.zip`)).size).toBeLessThanOrEqual(700 * 1024);
    const { stdout } = await run("python3", ["-m", "zipfile", "-l", out(`${fn}.zip`)]);
    const files = stdout.split("\n").slice(1).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
    expect(files.sort()).toEqual([`functions/${fn}.mjs`, `functions/${fn}.mjs.map`]);
    const { stdout: info } = await run("python3", ["-c", `import zipfile,sys; print(zipfile.ZipFile(sys.argv[1]).getinfo("functions/${fn}.mjs").file_size)`, out(`${fn}.zip`)]);
    expect(Number(info.trim())).toBeLessThanOrEqual(1000 * 1024);
  });

  it.skipIf(spawnSync("sh", ["-c", "command -v cfn-lint"]).status !== 0)("passes cfn-lint", () => {
    // W3005: the redundant DependsOn the framework itself generates.
    const r = spawnSync("cfn-lint", ["--ignore-checks", "W3005", "--", out("cloudformation-template-update-stack.json")], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

describe("the packaged bundles run from the zip alone", () => {
  const API_KEY = "bundle-test-key";
  let dir: string;
  let dynamo: Awaited<ReturnType<typeof startDynalite>>;
  let ssm: Server;
  let ssmEndpoint: string;
  const ssmCalls: Array<{ target: string | undefined; body: Record<string, unknown> }> = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bundle-"));
    for (const fn of ["api", "poller"]) execFileSync("python3", ["-m", "zipfile", "-e", out(`${fn}.zip`), dir]);
    dynamo = await startDynalite();
    const c = new DynamoDBClient({ endpoint: dynamo.endpoint, region: "eu-central-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    await ensureTable(c, "bundle-test");
    c.destroy();
    // Just enough of SSM (JSON 1.1 protocol) to answer GetParametersByPath.
    ssm = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d));
      req.on("end", () => {
        ssmCalls.push({ target: req.headers["x-amz-target"] as string | undefined, body: JSON.parse(body) });
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
        res.end(
          JSON.stringify({
            Parameters: [
              { Name: "/apig-taskwatch/test/API_KEYS", Type: "SecureString", Value: `ci:${createHash("sha256").update(API_KEY).digest("hex")}` },
            ],
          }),
        );
      });
    });
    await new Promise<void>((r) => ssm.listen(0, "127.0.0.1", r));
    ssmEndpoint = `http://127.0.0.1:${(ssm.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    await dynamo?.close();
    await new Promise((r) => ssm?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Run `script` as an ES module in a fresh node, in the unzipped package, with only `env`. */
  async function inNode(script: string, env: Record<string, string>): Promise<string> {
    const base = { PATH: process.env.PATH!, DYNAMODB_ENDPOINT: dynamo.endpoint, TABLE_NAME: "bundle-test", AWS_REGION: "eu-central-1" };
    // Keep-alive pools would hold the process open: exit once the answer is out.
    const { stdout } = await run(process.execPath, ["--enable-source-maps", "--input-type=module", "-e", `${script}\nprocess.exit(0);`], {
      cwd: dir,
      env: { ...base, ...env },
      timeout: 30_000,
    });
    return stdout;
  }

  it("api: answers GET /health and takes API keys from SSM under SSM_PREFIX", async () => {
    const stdout = await inNode(
      `const { handler } = await import("./functions/api.mjs");
       const ev = (method, path, headers = {}) => ({ version: "2.0", routeKey: "$default", rawPath: path, rawQueryString: "", headers, requestContext: { http: { method, path } }, isBase64Encoded: false });
       const a = await handler(ev("GET", "/health"));
       const b = await handler(ev("GET", "/tasks"));
       const c = await handler(ev("GET", "/tasks", { authorization: "Bearer ${API_KEY}" }));
       console.log(JSON.stringify([a.statusCode, b.statusCode, c.statusCode, JSON.parse(c.body)]));`,
      {
        SSM_PREFIX: "/apig-taskwatch/test/",
        AWS_ENDPOINT_URL_SSM: ssmEndpoint,
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "fake",
      },
    );
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual([200, 401, 200, { items: [], next_cursor: null }]);
    // One read per cold start, of the whole path, decrypted.
    expect(ssmCalls).toEqual([
      { target: "AmazonSSM.GetParametersByPath", body: { Path: "/apig-taskwatch/test", Recursive: true, WithDecryption: true } },
    ]);
  }, 60_000);

  it("poller: runs a tick and writes the backlog metric as an EMF line", async () => {
    const stdout = await inNode(
      `const { handler } = await import("./functions/poller.mjs");
       const summary = await handler({}, { getRemainingTimeInMillis: () => 100000 });
       console.log(JSON.stringify({ summary }));`,
      { AWS_LAMBDA_FUNCTION_NAME: "apig-taskwatch-test-poller", SERVICE_NAME: "apig-taskwatch-test" },
    );
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.at(-1)!.summary).toMatchObject({ due: 0, processed: 0, deferred: 0, oldestDueAgeS: 0 });
    const emf = lines.find((l) => l._aws);
    expect(emf).toMatchObject({ Service: "apig-taskwatch-test", OldestDueAgeSeconds: 0, DeferredWatches: 0 });
    expect(emf!._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: "ApigTaskwatch", Dimensions: [["Service"]] });
    expect(emf!._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: "OldestDueAgeSeconds", Unit: "Seconds" });
  }, 60_000);
});
