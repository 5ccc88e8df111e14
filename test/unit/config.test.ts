import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../lib/platform/config";

const HASH = "a".repeat(64);

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("defaults match PRODUCT.md", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      region: "eu-de",
      apigEndpoint: "https://apig.eu-de.otc.t-systems.com",
      iamEndpoint: "https://iam.eu-de.otc.t-systems.com",
      auth: { method: "none" },
      apiKeys: [],
      allowPrivateTargets: false,
      port: 3000,
      pollIntervalS: 5,
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
