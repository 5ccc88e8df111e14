/**
 * Regions and clouds: each served region is polled at its own endpoint (two
 * simulators stand in for two regions), IAM tokens come from each region's
 * IAM, and a registration for a region this deployment does not serve is
 * refused instead of being polled at the wrong endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApigSimulator, startApigSimulator } from "../../infra/dev/apig-simulator";
import { type Harness, registration, SIM_TOKEN, startHarness } from "../support/harness";

const USER = { domain: "dom", name: "robot", password: "Pa55word-robot-secret" };

describe("regions", () => {
  let nl: ApigSimulator;
  let h: Harness;
  beforeAll(async () => {
    nl = await startApigSimulator({ auth: { tokens: [SIM_TOKEN] } });
    h = await startHarness({ env: { APIG_ENDPOINTS: `eu-nl=${nl.url}` } });
  });
  afterAll(async () => {
    await h?.close();
    await nl?.close();
  });

  it("polls each region's tasks at that region's endpoint only", async () => {
    h.task("rg-de", ["processing", "succeed"]);
    nl.addTask({ projectId: "proj1", instanceId: "inst1", taskId: "rg-nl", taskType: "import_api", states: [{ status: "processing" }, { status: "succeed" }] });
    const de = await h.call("POST", "/tasks", { body: registration("rg-de", [], { region: "eu-de" }) });
    const nlReg = await h.call("POST", "/tasks", { body: registration("rg-nl", [], { region: "eu-nl" }) });
    expect([de.status, nlReg.status]).toEqual([201, 201]);
    expect(nlReg.json).toMatchObject({ region: "eu-nl", status: "processing" });
    await h.tick();
    expect((await h.call("GET", "/tasks/rg-de")).json.status).toBe("succeed");
    expect((await h.call("GET", "/tasks/rg-nl")).json.status).toBe("succeed");
    const asked = (sim: ApigSimulator) => sim.requests.map((r) => r.path.split("/").at(-1)).filter((id) => id?.startsWith("rg-"));
    expect(new Set(asked(h.sim))).toEqual(new Set(["rg-de"]));
    expect(new Set(asked(nl))).toEqual(new Set(["rg-nl"]));
  });

  it("refuses a region it does not serve with 400 unknown_region, listing the served ones", async () => {
    const polled = h.sim.requests.length + nl.requests.length;
    const r = await h.call("POST", "/tasks", { body: registration("rg-sg", [], { region: "ap-southeast-1" }) });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("unknown_region");
    expect(r.json.error.message).toContain("eu-de, eu-nl");
    expect(r.json.error.issues).toEqual([{ path: "region", message: "must be one of: eu-de, eu-nl" }]);
    expect(h.sim.requests.length + nl.requests.length).toBe(polled);
    expect((await h.call("GET", "/tasks/rg-sg")).status).toBe(404);
  });
});

describe("IAM tokens per region", () => {
  it("asks each region's IAM for that region's token, once per (project, region)", async () => {
    const nl = await startApigSimulator({ auth: { users: [USER] } });
    const h = await startHarness({
      sim: { auth: { users: [USER] } },
      env: {
        OTC_AUTH_TOKEN: "",
        OTC_USERNAME: USER.name,
        OTC_PASSWORD: USER.password,
        OTC_DOMAIN_NAME: USER.domain,
        APIG_ENDPOINTS: `eu-nl=${nl.url}`,
        IAM_ENDPOINTS: `eu-nl=${nl.url}`,
      },
    });
    try {
      for (const [sim, id, region] of [[h.sim, "iam-de", "eu-de"], [nl, "iam-nl", "eu-nl"]] as const) {
        for (const n of [1, 2]) {
          sim.addTask({ projectId: "proj1", instanceId: "inst1", taskId: `${id}-${n}`, states: [{ status: "processing" }] });
          const r = await h.call("POST", "/tasks", { body: registration(`${id}-${n}`, [], { region }) });
          expect(r.json).toMatchObject({ status: "processing", last_error: null });
        }
      }
      const tokenCalls = (sim: ApigSimulator) => sim.requests.filter((r) => r.path === "/v3/auth/tokens").length;
      // A token of one region would be refused in the other: each region got its own, and kept it.
      expect([tokenCalls(h.sim), tokenCalls(nl)]).toEqual([1, 1]);
      expect(h.logs.join("\n")).not.toContain(USER.password);
    } finally {
      await h.close();
      await nl.close();
    }
  });
});
