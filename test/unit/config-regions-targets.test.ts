/** Configuration: regions and their endpoints, default targets that could never be delivered, cursor and health settings. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/platform/config";
import { errorOf } from "../support/config-error";

const endpoints = (env: Record<string, string>) => Object.fromEntries(loadConfig(env).regions);

describe("regions and clouds", () => {
  it("built in: OTC eu-de, eu-nl, eu-ch2 (Swiss hosts), any other region as Huawei Cloud", () => {
    expect(endpoints({})).toEqual({ "eu-de": { apig: "https://apig.eu-de.otc.t-systems.com", iam: "https://iam.eu-de.otc.t-systems.com" } });
    expect(endpoints({ REGIONS: "eu-de,eu-nl,eu-ch2,ap-southeast-1" })).toEqual({
      "eu-de": { apig: "https://apig.eu-de.otc.t-systems.com", iam: "https://iam.eu-de.otc.t-systems.com" },
      "eu-nl": { apig: "https://apig.eu-nl.otc.t-systems.com", iam: "https://iam.eu-nl.otc.t-systems.com" },
      "eu-ch2": { apig: "https://apig.eu-ch2.sc.otc.t-systems.com", iam: "https://iam-pub.eu-ch2.sc.otc.t-systems.com" },
      "ap-southeast-1": { apig: "https://apig.ap-southeast-1.myhuaweicloud.com", iam: "https://iam.ap-southeast-1.myhuaweicloud.com" },
    });
    const hw = loadConfig({ OTC_REGION: "ap-southeast-1" });
    expect([hw.apigEndpoint, hw.iamEndpoint]).toEqual(["https://apig.ap-southeast-1.myhuaweicloud.com", "https://iam.ap-southeast-1.myhuaweicloud.com"]);
  });

  it("serves OTC_REGION plus every region APIG_ENDPOINTS names when REGIONS is unset", () => {
    const c = loadConfig({ OTC_REGION: "eu-nl", APIG_ENDPOINTS: "eu-de=http://127.0.0.1:1/, ap-southeast-1=https://apig.example" });
    expect([...c.regions.keys()]).toEqual(["eu-nl", "eu-de", "ap-southeast-1"]);
    expect(c.regions.get("eu-de")).toEqual({ apig: "http://127.0.0.1:1", iam: "https://iam.eu-de.otc.t-systems.com" });
  });

  it("APIG_ENDPOINT and IAM_ENDPOINT override OTC_REGION alone; the *_ENDPOINTS maps win for their regions", () => {
    const c = loadConfig({
      REGIONS: "eu-de,eu-nl",
      APIG_ENDPOINT: "http://apig.local",
      IAM_ENDPOINT: "http://iam.local/v3",
      IAM_ENDPOINTS: "eu-nl=http://iam-nl.local",
    });
    expect(Object.fromEntries(c.regions)).toEqual({
      "eu-de": { apig: "http://apig.local", iam: "http://iam.local" },
      "eu-nl": { apig: "https://apig.eu-nl.otc.t-systems.com", iam: "http://iam-nl.local" },
    });
    expect(loadConfig({ APIG_ENDPOINT: "http://a.local", APIG_ENDPOINTS: "eu-de=http://b.local" }).apigEndpoint).toBe("http://b.local");
  });

  it("names each bad region variable", () => {
    expect(errorOf({ REGIONS: "eu-de,EU_NL" }).issues).toEqual([{ variable: "REGIONS", message: expect.stringContaining("EU_NL") }]);
    expect(errorOf({ REGIONS: "eu-nl" }).issues).toEqual([{ variable: "REGIONS", message: expect.stringContaining("OTC_REGION") }]);
    expect(errorOf({ APIG_ENDPOINTS: "eu-de" }).issues[0]?.variable).toBe("APIG_ENDPOINTS");
    expect(errorOf({ APIG_ENDPOINTS: "eu-de=ftp://x" }).issues[0]?.variable).toBe("APIG_ENDPOINTS");
    expect(errorOf({ IAM_ENDPOINTS: "Bad=https://x" }).issues[0]?.variable).toBe("IAM_ENDPOINTS");
  });
});

describe("default targets that could never be delivered stop the start", () => {
  const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
  it.each([
    ["SLACK_WEBHOOK_URL", "http://hooks.slack.com/services/x", "https"],
    ["SLACK_WEBHOOK_URL", "https://127.0.0.1/x", "127.0.0.1"],
    ["SLACK_WEBHOOK_URL", "https://169.254.169.254/latest", "169.254.169.254"],
    ["DEFAULT_WEBHOOK_URL", "https://10.1.2.3/h", "10.1.2.3"],
    ["DEFAULT_WEBHOOK_URL", "https://localhost/h", "localhost"],
    ["DEFAULT_WEBHOOK_URL", "https://[::1]/h", "::1"],
  ])("%s=%s", (variable, url, why) => {
    const e = errorOf({ [variable]: url, ...(variable === "DEFAULT_WEBHOOK_URL" ? { DEFAULT_WEBHOOK_SECRET: secret } : {}) });
    expect(e.issues).toEqual([{ variable, message: expect.stringContaining("could never be delivered") }]);
    expect(e.issues[0]!.message).toContain(why);
  });

  it("allows them with ALLOW_PRIVATE_TARGETS, and accepts public https targets", () => {
    expect(loadConfig({ SLACK_WEBHOOK_URL: "http://127.0.0.1:9/x", ALLOW_PRIVATE_TARGETS: "true" }).slackWebhookUrl).toBe("http://127.0.0.1:9/x");
    expect(loadConfig({ DEFAULT_WEBHOOK_URL: "https://ci.example.com/h", DEFAULT_WEBHOOK_SECRET: secret }).defaultWebhook?.url).toBe("https://ci.example.com/h");
  });

  it("puts every bad variable on a line of its own, never a value", () => {
    const e = errorOf({ SLACK_WEBHOOK_URL: "https://10.0.0.1/secret-path", PORT: "x", DEFAULT_WEBHOOK_URL: "https://ci.example.com/h", DEFAULT_WEBHOOK_SECRET: "whsec_c2hvcnQ=" });
    const lines = e.message.split("\n");
    expect(lines[0]).toBe("invalid configuration:");
    expect(lines.slice(1).map((l) => l.trim().split(":")[0]).sort()).toEqual(["DEFAULT_WEBHOOK_SECRET", "PORT", "SLACK_WEBHOOK_URL"]);
    expect(e.message).not.toContain("secret-path");
    expect(e.message).not.toContain("c2hvcnQ");
  });
});

describe("cursor key and health cache", () => {
  it("derives the cursor key per deployment, or takes CURSOR_SECRET", () => {
    const a = loadConfig({ TABLE_NAME: "a" }).cursorKey;
    expect(loadConfig({ TABLE_NAME: "a" }).cursorKey.equals(a)).toBe(true);
    expect(loadConfig({ TABLE_NAME: "b" }).cursorKey.equals(a)).toBe(false);
    expect(loadConfig({ CURSOR_SECRET: "0123456789abcdef" }).cursorKey.equals(a)).toBe(false);
    expect(errorOf({ CURSOR_SECRET: "short" }).issues[0]?.variable).toBe("CURSOR_SECRET");
  });
  it("caches /health 12 s by default", () => {
    expect(loadConfig({}).healthCacheS).toBe(12);
    expect(errorOf({ HEALTH_CACHE_S: "-1" }).issues[0]?.variable).toBe("HEALTH_CACHE_S");
  });
});
