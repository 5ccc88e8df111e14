import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../lib/platform/config";

const issuesOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues;
  }
};

describe("OTC_CREDENTIALS: a whole credential set in one value", () => {
  it.each([
    [{ access_key: "AK", secret_key: "SK" }, { method: "aksk", accessKey: "AK", secretKey: "SK" }],
    [{ username: "u", password: "p", domain_name: "d" }, { method: "password", username: "u", password: "p", domainName: "d" }],
    [{ token: "T" }, { method: "token", token: "T" }],
  ])("%o", (json, auth) => {
    expect(loadConfig({ OTC_CREDENTIALS: JSON.stringify(json) }).auth).toEqual(auth);
  });

  it("refuses a half pair, unknown keys or no JSON, without echoing the value", () => {
    for (const raw of ['{"access_key":"AK-secret-value"}', '{"access_key":"a","secret_key":"b","extra":"x"}', "AK-secret-value:SK"]) {
      const issues = issuesOf({ OTC_CREDENTIALS: raw });
      expect(issues.map((i) => i.variable)).toEqual(["OTC_CREDENTIALS"]);
      expect(JSON.stringify(issues)).not.toContain("secret-value");
    }
  });

  it("refuses OTC_CREDENTIALS together with the separate variables, naming them", () => {
    const issues = issuesOf({ OTC_CREDENTIALS: JSON.stringify({ token: "T" }), OTC_SECRET_KEY: "SK" });
    expect(issues).toEqual([{ variable: "OTC_CREDENTIALS, OTC_SECRET_KEY", message: expect.stringContaining("not both") }]);
  });

  it("reads LOG_LEVEL and SECRETS_TTL_S, naming a bad value's variable", () => {
    expect(loadConfig({ LOG_LEVEL: "debug", SECRETS_TTL_S: "60" })).toMatchObject({ logLevel: "DEBUG", secretsTtlS: 60 });
    expect(loadConfig({})).toMatchObject({ logLevel: "INFO", secretsTtlS: 300 });
    expect(issuesOf({ LOG_LEVEL: "loud", SECRETS_TTL_S: "1" }).map((i) => i.variable)).toEqual(["LOG_LEVEL", "SECRETS_TTL_S"]);
  });
});
