import { GetParametersByPathCommand } from "@aws-sdk/client-ssm";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/config";
import { type SsmLike, withSsmSecrets } from "../../lib/ssm-env";

function fakeSsm(pages: Array<Array<{ Name: string; Value: string }>>): SsmLike & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    calls,
    send: (async (cmd: GetParametersByPathCommand) => {
      calls.push(cmd.input);
      const i = cmd.input.NextToken ? Number(cmd.input.NextToken) : 0;
      return { Parameters: pages[i], NextToken: i + 1 < pages.length ? String(i + 1) : undefined };
    }) as SsmLike["send"],
  };
}

describe("withSsmSecrets", () => {
  it("lays the allowed secrets under the path over the environment, across pages, decrypted", async () => {
    const ssm = fakeSsm([
      [
        { Name: "/apig-taskwatch/prod/OTC_ACCESS_KEY", Value: "AK" },
        { Name: "/apig-taskwatch/prod/PATH", Value: "/evil" },
      ],
      [
        { Name: "/apig-taskwatch/prod/OTC_SECRET_KEY", Value: "SK" },
        { Name: "/apig-taskwatch/prod/API_KEYS", Value: `ci:${"a".repeat(64)}` },
      ],
    ]);
    const env = await withSsmSecrets({ OTC_REGION: "eu-nl", PATH: "/usr/bin" }, ssm, "/apig-taskwatch/prod/");
    expect(env).toMatchObject({ OTC_REGION: "eu-nl", PATH: "/usr/bin", OTC_ACCESS_KEY: "AK", OTC_SECRET_KEY: "SK" });
    expect(ssm.calls).toEqual([
      expect.objectContaining({ Path: "/apig-taskwatch/prod", WithDecryption: true }),
      expect.objectContaining({ Path: "/apig-taskwatch/prod", NextToken: "1" }),
    ]);
    const config = loadConfig(env);
    expect(config.auth).toEqual({ method: "aksk", accessKey: "AK", secretKey: "SK" });
    expect(config.apiKeys.map((k) => k.tenant)).toEqual(["ci"]);
  });
});
