/**
 * The APIG + IAM simulator over real HTTP on 127.0.0.1: the documented task
 * query, async import/export, the three ways to authenticate, and scripted faults.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Agent, request } from "undici";
import { type ApigSimulator, type SimulatorOptions, startApigSimulator } from "../../infra/dev/apig-simulator";
import { signRequest } from "../../lib/otc/signer";

const TOKEN = "static-token-for-tests";
const AK = "SIMAKEXAMPLE000000001";
const SK = "sim-secret-key-do-not-log";
const USER = { domain: "acme-domain", name: "ci-bot", password: "S3cret-Pa55word!" };
const TASK_PATH = (task: string, project = "proj1", instance = "inst1") => `/v2/${project}/apigw/instances/${instance}/async-tasks/${task}`;

const running: ApigSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(opts: SimulatorOptions = {}): Promise<ApigSimulator> {
  const sim = await startApigSimulator({ auth: { tokens: [TOKEN], accessKey: AK, secretKey: SK, users: [USER] }, ...opts });
  running.push(sim);
  return sim;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

async function call(
  sim: ApigSimulator,
  path: string,
  init: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const res = await request(`${sim.url}${path}`, {
    method: init.method ?? "GET",
    headers: init.headers ?? { "x-auth-token": TOKEN },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await res.body.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: the test looks at text
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const BAD_TOKEN = { error_code: "APIG.1002", error_msg: "Incorrect token or token resolution failed" };

describe("task query", () => {
  it("walks waiting → processing → succeed in exactly the documented shape, then stays succeed", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "t1" });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await call(sim, TASK_PATH("t1")));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers[0]!.json).toEqual({ task_id: "t1", task_status: "waiting", task_type: "import_api", task_result: "" });
    expect(answers[1]!.json).toEqual({ task_id: "t1", task_status: "processing", task_type: "import_api", task_result: "" });
    expect(answers[0]!.headers["content-type"]).toBe("application/json");
    const done = answers[2]!.json;
    expect(done).toMatchObject({ task_id: "t1", task_status: "succeed", task_type: "import_api" });
    expect(Object.keys(done as object).sort()).toEqual(["task_id", "task_result", "task_status", "task_type"]);
    const result: unknown = JSON.parse(String((done as { task_result: unknown }).task_result));
    expect(result).toMatchObject({
      success: expect.arrayContaining([expect.objectContaining({ id: expect.any(String), action: "create", method: "GET", path: "/test1" })]),
      // Clean by default: a newcomer's first import exits 0.
      failure: [],
      swagger: { id: expect.any(String), result: "Success" },
      group_id: expect.any(String),
    });
    expect(answers[3]!.json).toEqual(done);
  });

  it("a demo task whose id contains partial succeeds with one failed API; fail fails", async () => {
    const sim = await start({ stepsPerState: 1 });
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "t-partial" });
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "t-fail" });
    for (let i = 0; i < 2; i++) await call(sim, TASK_PATH("t-partial"));
    for (let i = 0; i < 2; i++) await call(sim, TASK_PATH("t-fail"));
    const partial = (await call(sim, TASK_PATH("t-partial"))).json as { task_status: string; task_result: string };
    expect(partial.task_status).toBe("succeed");
    expect(JSON.parse(partial.task_result).failure).toHaveLength(1);
    expect((await call(sim, TASK_PATH("t-fail"))).json).toMatchObject({ task_status: "failed" });
  });

  it("keeps a demo task stepsPerState queries in each pending state", async () => {
    const sim = await start({ stepsPerState: 2 });
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "slow" });
    const seen = [];
    for (let i = 0; i < 5; i++) seen.push((await call(sim, TASK_PATH("slow"))).json);
    expect(seen.map((j) => (j as { task_status: string }).task_status)).toEqual(["waiting", "waiting", "processing", "processing", "succeed"]);
  });

  it("ends a task whose id contains 'fail' as failed with APIG.3201", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "will-fail" });
    await call(sim, TASK_PATH("will-fail"));
    await call(sim, TASK_PATH("will-fail"));
    const a = await call(sim, TASK_PATH("will-fail"));
    expect(a.json).toEqual({
      task_id: "will-fail",
      task_status: "failed",
      task_type: "import_api",
      task_result: '{"error_code":"APIG.3201","error_msg":"The API group name already exists"}',
    });
  });

  it("serves given states one per query, repeating the last", async () => {
    const sim = await start();
    const result = JSON.stringify({ FileName: "g-RELEASE-all", FileType: ".json", Comment: "{}" });
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "exp", taskType: "export_api", states: [{ status: "processing" }, { status: "succeed", result }] });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(sim, TASK_PATH("exp"))).json);
    expect(statuses).toEqual([
      { task_id: "exp", task_status: "processing", task_type: "export_api", task_result: "" },
      { task_id: "exp", task_status: "succeed", task_type: "export_api", task_result: result },
      { task_id: "exp", task_status: "succeed", task_type: "export_api", task_result: result },
    ]);
  });

  it("answers 404 APIG.3093 for an unknown task and for a task of another project or gateway", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "mine", states: [{ status: "processing" }] });
    for (const path of [TASK_PATH("nope"), TASK_PATH("mine", "proj2"), TASK_PATH("mine", "proj1", "inst2")]) {
      const id = path.split("/").at(-1);
      const a = await call(sim, path);
      expect(a.status).toBe(404);
      expect(a.json).toEqual({ error_code: "APIG.3093", error_msg: `The asynchronous task ${id} does not exist` });
    }
    // The refused queries did not advance or steal the task.
    expect((await call(sim, TASK_PATH("mine"))).json).toMatchObject({ task_status: "processing" });
  });

  it("creates an unknown task on the fly as a demo import when autoTasks is on", async () => {
    const sim = await start({ autoTasks: true });
    expect((await call(sim, TASK_PATH("anything-42"))).json).toMatchObject({ task_id: "anything-42", task_status: "waiting" });
    expect((await call(sim, TASK_PATH("anything-42"))).json).toMatchObject({ task_status: "processing" });
    expect((await call(sim, TASK_PATH("anything-42"))).json).toMatchObject({ task_status: "succeed" });
    // It belongs to the gateway that first asked.
    expect((await call(sim, TASK_PATH("anything-42", "proj1", "inst9"))).status).toBe(404);
  });
});

describe("authentication on APIG routes", () => {
  it("refuses a request without credentials, or with an unknown token, with 401 APIG.1002", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "t" });
    const attempts: Array<Record<string, string>> = [{}, { "x-auth-token": "wrong" }, { authorization: `Bearer ${TOKEN}` }];
    for (const headers of attempts) {
      const a = await call(sim, TASK_PATH("t"), { headers });
      expect(a.status).toBe(401);
      expect(a.json).toEqual(BAD_TOKEN);
    }
    // Refusals do not advance the task.
    expect((await call(sim, TASK_PATH("t"))).json).toMatchObject({ task_status: "waiting" });
  });

  it("accepts an AK/SK-signed request and refuses a tampered one with 401 APIG.1002", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "sig", states: [{ status: "processing" }] });
    const url = new URL(`${sim.url}${TASK_PATH("sig")}?x=1`);
    const headers = signRequest({ method: "GET", url, headers: { host: url.host, "X-Project-Id": "proj1" } }, { accessKey: AK, secretKey: SK }, new Date());
    const ok = await call(sim, `${url.pathname}${url.search}`, { headers });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ task_id: "sig", task_status: "processing" });

    const tampered = [
      await call(sim, `${url.pathname}?x=2`, { headers }),
      await call(sim, `${TASK_PATH("sig2")}?x=1`, { headers }),
      await call(sim, `${url.pathname}${url.search}`, { headers: { ...headers, "X-Project-Id": "proj2" } }),
      await call(sim, `${url.pathname}${url.search}`, { headers: { ...headers, Authorization: headers.Authorization!.replace(/.$/, (c) => (c === "0" ? "1" : "0")) } }),
      await call(sim, `${url.pathname}${url.search}`, { method: "POST", headers, body: "{}" }),
    ];
    for (const a of tampered) expect({ status: a.status, json: a.json }).toEqual({ status: 401, json: BAD_TOKEN });
  });

  it("refuses a valid signature whose X-Project-Id is not the path's project", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "sig" });
    const url = new URL(`${sim.url}${TASK_PATH("sig")}`);
    const headers = signRequest({ method: "GET", url, headers: { host: url.host, "X-Project-Id": "proj2" } }, { accessKey: AK, secretKey: SK }, new Date());
    expect((await call(sim, url.pathname, { headers })).status).toBe(401);
  });

  it("refuses a signature dated outside the allowed skew of the simulator's clock", async () => {
    const sim = await start({ now: () => Date.parse("2030-01-01T00:00:00Z") });
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "sig" });
    const url = new URL(`${sim.url}${TASK_PATH("sig")}`);
    const sign = (at: string) =>
      signRequest({ method: "GET", url, headers: { host: url.host, "X-Project-Id": "proj1" } }, { accessKey: AK, secretKey: SK }, new Date(at));
    expect((await call(sim, url.pathname, { headers: sign("2030-01-01T00:20:00Z") })).status).toBe(401);
    expect((await call(sim, url.pathname, { headers: sign("2030-01-01T00:01:00Z") })).status).toBe(200);
  });

  it("issues IAM tokens for known users only, scoped to one project, expiring after tokenTtlS", async () => {
    let now = Date.parse("2030-01-01T00:00:00Z");
    const sim = await start({ now: () => now, auth: { tokens: [TOKEN], users: [USER], tokenTtlS: 3600 } });
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "t", states: [{ status: "processing" }] });
    sim.addTask({ projectId: "proj2", instanceId: "inst1", taskId: "t2", states: [{ status: "processing" }] });
    const body = (password: string, projectId = "proj1") =>
      JSON.stringify({
        auth: {
          identity: { methods: ["password"], password: { user: { name: USER.name, password, domain: { name: USER.domain } } } },
          scope: { project: { id: projectId } },
        },
      });
    const headers = { "content-type": "application/json;charset=utf8" };

    const bad = await call(sim, "/v3/auth/tokens?nocatalog=true", { method: "POST", headers, body: body("wrong") });
    expect(bad.status).toBe(401);
    expect(bad.headers["x-subject-token"]).toBeUndefined();
    expect((await call(sim, "/v3/auth/tokens", { method: "POST", headers, body: "{}" })).status).toBe(400);

    const ok = await call(sim, "/v3/auth/tokens?nocatalog=true", { method: "POST", headers, body: body(USER.password) });
    expect(ok.status).toBe(201);
    const token = ok.headers["x-subject-token"];
    expect(typeof token).toBe("string");
    expect(ok.json).toEqual({
      token: expect.objectContaining({ expires_at: "2030-01-01T01:00:00.000Z", issued_at: "2030-01-01T00:00:00.000Z", project: expect.objectContaining({ id: "proj1" }) }),
    });
    expect(ok.text).not.toContain(USER.password);

    const auth = { "x-auth-token": String(token) };
    expect((await call(sim, TASK_PATH("t"), { headers: auth })).status).toBe(200);
    expect((await call(sim, TASK_PATH("t2", "proj2"), { headers: auth })).status).toBe(401);
    now += 3600_000;
    expect((await call(sim, TASK_PATH("t"), { headers: auth })).json).toEqual(BAD_TOKEN);

    now = Date.parse("2030-01-01T00:00:00Z");
    expect((await call(sim, TASK_PATH("t"), { headers: auth })).status).toBe(200);
    sim.expireTokens();
    expect((await call(sim, TASK_PATH("t"), { headers: auth })).status).toBe(401);
    // Static tokens are not IAM tokens and survive expireTokens.
    expect((await call(sim, TASK_PATH("t"))).status).toBe(200);
  });
});

describe("scripted answers", () => {
  it("serves scripted 500, HTML, empty and header-carrying answers in order, then resumes normal answers", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "s", states: [{ status: "processing" }] });
    const throttled = JSON.stringify({ error_code: "APIG.9008", error_msg: "Too many requests. Try again later." });
    sim.script("s", [
      { status: 500, body: throttled, headers: { "content-type": "application/json" } },
      { status: 502, body: "<html><body>Bad Gateway</body></html>", headers: { "content-type": "text/html" } },
      { status: 503 },
      { status: 429, headers: { "retry-after": "7" } },
    ]);
    const a = [];
    for (let i = 0; i < 5; i++) a.push(await call(sim, TASK_PATH("s")));
    expect(a[0]).toMatchObject({ status: 500, text: throttled });
    expect(a[1]).toMatchObject({ status: 502, text: "<html><body>Bad Gateway</body></html>" });
    expect(a[1]!.headers["content-type"]).toBe("text/html");
    expect(a[2]).toMatchObject({ status: 503, text: "" });
    expect(a[3]).toMatchObject({ status: 429, text: "" });
    expect(a[3]!.headers["retry-after"]).toBe("7");
    expect(a[4]).toMatchObject({ status: 200, json: { task_id: "s", task_status: "processing" } });
  });

  it("drops the connection for a reset, and answers late for a delay", async () => {
    const sim = await start();
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "r", states: [{ status: "processing" }] });
    sim.script("r", [{ reset: true }, { delayMs: 600 }, { delayMs: 300 }]);
    // A fresh agent per step, so a dropped or abandoned socket cannot leak into the next call.
    const once = async (timeoutMs?: number) => {
      const dispatcher = new Agent();
      try {
        const res = await request(`${sim.url}${TASK_PATH("r")}`, {
          headers: { "x-auth-token": TOKEN },
          dispatcher,
          ...(timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
        });
        return { status: res.statusCode, json: await res.body.json() };
      } finally {
        await dispatcher.destroy();
      }
    };
    await expect(once()).rejects.toMatchObject({ code: "UND_ERR_SOCKET" });
    // The client gives up before the delayed answer comes: a client timeout.
    await expect(once(150)).rejects.toMatchObject({ name: "TimeoutError" });
    const t0 = Date.now();
    expect(await once()).toEqual({ status: 200, json: { task_id: "r", task_status: "processing", task_type: "import_api", task_result: "" } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(await once()).toMatchObject({ status: 200 });
  });
});

describe("async import and export", () => {
  const post = (sim: ApigSimulator, kind: "import" | "export", body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
    call(sim, `/v2/proj1/apigw/instances/inst1/openapi/async-${kind}`, { method: "POST", headers: { "x-auth-token": TOKEN, ...headers }, body });

  const taskIdOf = (a: Answer) => {
    expect(a.status).toBe(202);
    expect(Object.keys(a.json as object)).toEqual(["task_id"]);
    return String((a.json as { task_id: unknown }).task_id);
  };

  async function finalState(sim: ApigSimulator, id: string) {
    let last: Answer | undefined;
    for (let i = 0; i < 3; i++) last = await call(sim, TASK_PATH(id));
    return last!.json as { task_id: string; task_status: string; task_type: string; task_result: string };
  }

  /** A multipart body as a browser or our client would send it. */
  async function form(fields: Record<string, string>, file?: { content: string; name: string }) {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.set(k, v);
    if (file) f.set("file_name", new Blob([file.content]), file.name);
    const encoded = new Response(f);
    return { body: await encoded.text(), headers: { "content-type": encoded.headers.get("content-type") ?? "" } };
  }
  const importForm = async (sim: ApigSimulator, fields: Record<string, string>, file?: { content: string; name: string }) => {
    const f = await form(fields, file);
    return post(sim, "import", f.body, f.headers);
  };

  const YAML_SPEC = [
    'swagger: "2.0"',
    "info:",
    "  title: pets",
    '  version: "1"',
    "paths:",
    "  /pets:",
    "    get: {operationId: listPets}",
    "    post: {operationId: createPet}",
    "  /pets/{id}:",
    "    delete: {operationId: failDelete}",
    "",
  ].join("\n");

  it("async-import as multipart: one success entry per operation of a YAML document, a failure for an operationId with 'fail'", async () => {
    const sim = await start();
    const id = taskIdOf(await importForm(sim, { is_create_group: "false", group_id: "d9ce8c9eede54b3f841ec324fe0bfdc2" }, { content: YAML_SPEC, name: "pets.yaml" }));
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect((await call(sim, TASK_PATH(id))).json).toEqual({ task_id: id, task_status: "waiting", task_type: "import_api", task_result: "" });
    const done = await finalState(sim, id);
    expect(done).toMatchObject({ task_id: id, task_status: "succeed", task_type: "import_api" });
    const result = JSON.parse(done.task_result) as { success: Array<Record<string, string>>; failure: Array<Record<string, string>>; group_id: string };
    expect(result.group_id).toBe("d9ce8c9eede54b3f841ec324fe0bfdc2");
    expect(result.success.map((e) => `${e.method} ${e.path}`).sort()).toEqual(["GET /pets", "POST /pets"]);
    expect(result.failure).toEqual([{ method: "DELETE", path: "/pets/{id}", error_code: "APIG.3301", error_msg: "The API already exists" }]);
    expect(sim.uploads.at(-1)).toMatchObject({ fileName: "pets.yaml", content: YAML_SPEC, fields: { is_create_group: "false" } });
    // Only the creating gateway sees it.
    expect((await call(sim, TASK_PATH(id, "proj1", "other"))).status).toBe(404);
  });

  it("async-import of 120,000 operations: no stack overflow, one success entry each", async () => {
    const sim = await start();
    const paths: Record<string, unknown> = {};
    for (let i = 0; i < 120_000; i++) paths[`/p${i}`] = { get: { operationId: `o${i}` } };
    const doc = JSON.stringify({ swagger: "2.0", info: { title: "huge", version: "1" }, paths });
    const r = await importForm(sim, { is_create_group: "true" }, { content: doc, name: "huge.json" });
    expect(r.status).toBe(202);
    const done = await finalState(sim, taskIdOf(r));
    expect(done.task_status).toBe("succeed");
    expect((JSON.parse(done.task_result) as { success: unknown[] }).success).toHaveLength(120_000);
  }, 60_000);

  it("keeps bounded history: the last N requests, uploads and tasks", async () => {
    const sim = await start({ keep: { requests: 20, uploads: 2, tasks: 3 } });
    for (let i = 0; i < 4; i++) await importForm(sim, { is_create_group: "true" }, { content: YAML_SPEC, name: `pets-${i}.yaml` });
    expect(sim.uploads.map((u) => u.fileName)).toEqual(["pets-2.yaml", "pets-3.yaml"]);
    for (let i = 0; i < 60; i++) await call(sim, TASK_PATH("no-such-task"));
    expect(sim.requests.length).toBeLessThanOrEqual(22);
    expect(sim.requests.at(-1)!.path).toBe(TASK_PATH("no-such-task"));
    for (let i = 0; i < 5; i++) sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: `t${i}` });
    expect((await call(sim, TASK_PATH("t0"))).status).toBe(404);
    expect((await call(sim, TASK_PATH("t4"))).status).toBe(200);
  });

  it("async-import: a JSON swagger whose title contains 'fail' ends failed", async () => {
    const sim = await start();
    const doc = JSON.stringify({ swagger: "2.0", info: { title: "group-that-will-fail", version: "1" }, paths: {} });
    const id = taskIdOf(await importForm(sim, { is_create_group: "true" }, { content: doc, name: "api.json" }));
    const done = await finalState(sim, id);
    expect(done).toMatchObject({ task_status: "failed", task_type: "import_api" });
    expect(JSON.parse(done.task_result)).toEqual({ error_code: "APIG.3201", error_msg: "The API group name already exists" });
  });

  it("async-import refuses what the documentation does not allow, with APIG's 400 codes", async () => {
    const sim = await start();
    const spec = { content: YAML_SPEC, name: "pets.yaml" };
    const refusals = [
      // the documented "example" JSON body: no file can travel in it
      await post(sim, "import", JSON.stringify({ is_create_group: false, group_id: "g", file_name: "APIGroup_test.json" })),
      await importForm(sim, { is_create_group: "true" }),
      await importForm(sim, { is_create_group: "true", file_name: YAML_SPEC }),
      await importForm(sim, { is_create_group: "false" }, spec),
      await importForm(sim, { extend_mode: "replace" }, spec),
      await importForm(sim, { simple_mode: "yes" }, spec),
      await importForm(sim, { bogus: "1" }, spec),
      await importForm(sim, {}, { content: "just: text\n", name: "x.yaml" }),
    ];
    expect(refusals.map((a) => [a.status, (a.json as { error_code: string }).error_code])).toEqual([
      [400, "APIG.2001"],
      [400, "APIG.2001"],
      [400, "APIG.2001"],
      [400, "APIG.2001"],
      [400, "APIG.2012"],
      [400, "APIG.2012"],
      [400, "APIG.2012"],
      [400, "APIG.2012"],
    ]);
    expect(sim.uploads).toEqual([]);
  });

  it("async-export returns the APIs imported into the group, as YAML when asked, in OpenAPI 3.0 when asked", async () => {
    const sim = await start();
    await importForm(sim, { is_create_group: "false", group_id: "grp1" }, { content: YAML_SPEC, name: "pets.yaml" });
    const id = taskIdOf(await post(sim, "export", JSON.stringify({ env_id: "DEFAULT_ENVIRONMENT_RELEASE_ID", group_id: "grp1", type: "yaml" })));
    const result = JSON.parse((await finalState(sim, id)).task_result) as { FileType: string; Comment: string };
    expect(result.FileType).toBe(".yaml");
    expect(result.Comment).toContain("/pets:");
    expect(result.Comment).not.toContain("/pets/{id}");
    const id3 = taskIdOf(
      await call(sim, "/v2/proj1/apigw/instances/inst1/openapi/async-export?oas_version=3.0", {
        method: "POST",
        headers: { "x-auth-token": TOKEN, "content-type": "application/json" },
        body: JSON.stringify({ env_id: "e", group_id: "grp1" }),
      }),
    );
    expect(JSON.parse((JSON.parse((await finalState(sim, id3)).task_result) as { Comment: string }).Comment)).toMatchObject({ openapi: "3.0.0", paths: { "/pets": {} } });
    const bad = await call(sim, "/v2/proj1/apigw/instances/inst1/openapi/async-export?oas_version=4", {
      method: "POST",
      headers: { "x-auth-token": TOKEN, "content-type": "application/json" },
      body: JSON.stringify({ env_id: "e", group_id: "grp1" }),
    });
    expect(bad.status).toBe(400);
  });

  it("async-export answers 202 and ends with FileName, FileType and Comment; env_id is required", async () => {
    const sim = await start();
    const id = taskIdOf(await post(sim, "export", JSON.stringify({ env_id: "DEFAULT_ENVIRONMENT_RELEASE_ID", group_id: "c77f5e81d9cb4424bf704ef2b0ac7600", define: "all" })));
    const done = await finalState(sim, id);
    expect(done).toMatchObject({ task_id: id, task_status: "succeed", task_type: "export_api" });
    const result = JSON.parse(done.task_result) as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual(["Comment", "FileName", "FileType"]);
    expect(result).toMatchObject({ FileName: expect.stringContaining("c77f5e81d9cb4424bf704ef2b0ac7600-RELEASE-all"), FileType: ".json" });
    expect(JSON.parse(String(result.Comment))).toMatchObject({ swagger: "2.0" });

    const missing = await post(sim, "export", JSON.stringify({ group_id: "g" }));
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({
      error_code: "APIG.2001",
      error_msg: "The request parameters must be specified,parameterName:env_id. Please refer to the support documentation",
    });
  });

  it("async routes need authentication like the query", async () => {
    const sim = await start();
    const a = await call(sim, "/v2/proj1/apigw/instances/inst1/openapi/async-export", { method: "POST", headers: {}, body: "{}" });
    expect({ status: a.status, json: a.json }).toEqual({ status: 401, json: BAD_TOKEN });
  });
});

describe("housekeeping", () => {
  it("records every request and logs one line each without secrets", async () => {
    const lines: string[] = [];
    const sim = await start({ log: (l) => lines.push(l) });
    sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "t" });
    await call(sim, TASK_PATH("t"));
    await call(sim, TASK_PATH("t"), { headers: { "x-auth-token": "nope" } });
    await call(sim, "/v3/auth/tokens?nocatalog=true", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ auth: { identity: { methods: ["password"], password: { user: { name: USER.name, password: USER.password, domain: { name: USER.domain } } } }, scope: { project: { id: "proj1" } } } }),
    });
    expect(sim.requests.map((r) => [r.method, r.path])).toEqual([
      ["GET", TASK_PATH("t")],
      ["GET", TASK_PATH("t")],
      ["POST", "/v3/auth/tokens"],
    ]);
    // A line is written when the server side of the exchange closes, which may be just after the client has its answer.
    await vi.waitFor(() => expect(lines).toHaveLength(3));
    expect(lines[1]).toContain("401");
    for (const secret of [TOKEN, USER.password, SK]) expect(lines.join("\n")).not.toContain(secret);
  });

  it("close() returns promptly even with an idle keep-alive connection open", async () => {
    const sim = await startApigSimulator({ auth: { tokens: [TOKEN] } });
    const dispatcher = new Agent({ keepAliveTimeout: 60_000 });
    const res = await request(`${sim.url}${TASK_PATH("x")}`, { headers: { "x-auth-token": TOKEN }, dispatcher });
    await res.body.dump();
    const t0 = Date.now();
    await sim.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    await dispatcher.destroy();
  });
});
