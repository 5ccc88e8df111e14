import { describe, expect, it } from "vitest";
import { RegionId } from "../../lib/domain/watch";
import { RegistrationRequest } from "../../lib/http/schemas";
import { loadConfig } from "../../lib/platform/config";
import { errorOf } from "../support/config-error";

const HASH = "a".repeat(64);


describe("loadConfig", () => {
  it("defaults match docs/configuration.md", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      region: "eu-de",
      apigEndpoint: "https://apig.eu-de.otc.t-systems.com",
      iamEndpoint: "https://iam.eu-de.otc.t-systems.com",
      auth: { method: "none" },
      apiKeys: [],
      allowPrivateTargets: false,
      port: 3000,
      pollIntervalS: 60,
      pollConcurrency: 64,
      apigMaxRps: 200,
      dueShards: 16,
      dataDir: ".data",
      notFoundGraceS: 600,
      notifyRetryS: [5, 300, 1800, 7200, 18000, 36000, 36000],
      defaultTimeoutS: 86400,
      retentionDays: 30,
    });
  });

  it("derives endpoints from the region, with the Swiss IAM host", () => {
    expect(loadConfig({ OTC_REGION: "eu-nl" }).apigEndpoint).toBe("https://apig.eu-nl.otc.t-systems.com");
    expect(loadConfig({ OTC_REGION: "eu-ch2" }).iamEndpoint).toBe("https://iam-pub.eu-ch2.sc.otc.t-systems.com");
    expect(loadConfig({ APIG_ENDPOINT: "http://127.0.0.1:9/", IAM_ENDPOINT: "https://iam.x/v3" })).toMatchObject({
      apigEndpoint: "http://127.0.0.1:9",
      iamEndpoint: "https://iam.x",
    });
  });

  it("parses API keys per tenant", () => {
    const c = loadConfig({ API_KEYS: `acme:${HASH}, beta:${"B".repeat(64)}` });
    expect(c.apiKeys.map((k) => k.tenant)).toEqual(["acme", "beta"]);
    expect(c.apiKeys[0]?.hash.length).toBe(32);
  });

  it("picks the one credential set given", () => {
    expect(loadConfig({ OTC_ACCESS_KEY: "AK", OTC_SECRET_KEY: "SK" }).auth).toEqual({ method: "aksk", accessKey: "AK", secretKey: "SK" });
    expect(loadConfig({ OTC_USERNAME: "u", OTC_PASSWORD: "p", OTC_DOMAIN_NAME: "d" }).auth.method).toBe("password");
    expect(loadConfig({ OTC_AUTH_TOKEN: "tok" }).auth).toEqual({ method: "token", token: "tok" });
  });

  it("names the variables of incomplete or conflicting credentials, never their values", () => {
    const partial = errorOf({ OTC_ACCESS_KEY: "AKVALUE" });
    expect(partial.message).toContain("OTC_SECRET_KEY");
    expect(partial.message).not.toContain("AKVALUE");
    const both = errorOf({ OTC_ACCESS_KEY: "AK", OTC_SECRET_KEY: "SECRETVALUE", OTC_AUTH_TOKEN: "TOKENVALUE" });
    expect(both.message).toContain("OTC_AUTH_TOKEN");
    expect(both.message).toContain("OTC_SECRET_KEY");
    expect(both.message).not.toMatch(/SECRETVALUE|TOKENVALUE/);
  });

  it("reports every bad variable at once", () => {
    const e = errorOf({
      PORT: "http",
      API_KEYS: "acme:short",
      NOTIFY_RETRY_S: "5,,x",
      ALLOW_PRIVATE_TARGETS: "maybe",
      SLACK_WEBHOOK_URL: "not a url",
      DEFAULT_WEBHOOK_URL: "https://ci.example.com/h",
      POLL_INTERVAL_S: "0",
    });
    expect(e.issues.map((i) => i.variable).sort()).toEqual(
      ["ALLOW_PRIVATE_TARGETS", "API_KEYS", "DEFAULT_WEBHOOK_SECRET", "NOTIFY_RETRY_S", "POLL_INTERVAL_S", "PORT", "SLACK_WEBHOOK_URL"].sort(),
    );
  });
});

describe("one parser per concept, shared by the configuration and the API", () => {
  const short = `whsec_${Buffer.alloc(8, 1).toString("base64")}`;
  const good = `whsec_${Buffer.alloc(32, 1).toString("base64")}`;

  it.each([
    ["8 bytes", short, false],
    ["not base64", "whsec_***", false],
    ["no prefix", Buffer.alloc(32, 1).toString("base64"), false],
    ["32 bytes", good, true],
  ])("a webhook secret of %s is accepted by both or by neither", (_name, secret, ok) => {
    const api = RegistrationRequest.public.safeParse({
      project_id: "p",
      instance_id: "i",
      task_id: "t",
      notify: [{ type: "webhook", url: "https://ci.example.com/h", secret }],
    }).success;
    let config = true;
    try {
      loadConfig({ DEFAULT_WEBHOOK_URL: "https://ci.example.com/h", DEFAULT_WEBHOOK_SECRET: secret });
    } catch {
      config = false;
    }
    expect([api, config]).toEqual([ok, ok]);
  });

  it("names DEFAULT_WEBHOOK_SECRET and says why, without echoing it", () => {
    const err = errorOf({ DEFAULT_WEBHOOK_URL: "https://ci.example.com/h", DEFAULT_WEBHOOK_SECRET: short });
    expect(err.issues).toEqual([{ variable: "DEFAULT_WEBHOOK_SECRET", message: expect.stringContaining("24 to 64 bytes") }]);
    expect(err.message).not.toContain(short);
  });

  it("checks OTC_REGION as the API checks a registration's region", () => {
    expect(errorOf({ OTC_REGION: "EU_DE" }).issues[0]?.variable).toBe("OTC_REGION");
    expect(RegionId.safeParse("EU_DE").success).toBe(false);
    expect(loadConfig({ OTC_REGION: "ap-southeast-1" }).region).toBe("ap-southeast-1");
  });
});
