import type { GetParametersByPathCommand } from "@aws-sdk/client-ssm";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../lib/platform/config";
import { SecretsError } from "../../lib/domain/errors";
import { type SsmLike, withSsmSecrets } from "../../lib/aws/ssm-env";

type Param = { Name: string; Value: string };

/** A fake SSM holding `pages`, answering GetParametersByPath one page at a time. */
function fakeSsm(pages: Param[][]): SsmLike & { calls: GetParametersByPathCommand["input"][] } {
  const calls: GetParametersByPathCommand["input"][] = [];
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
  it("lays the allowed secrets under the path over the environment, across pages and levels, decrypted", async () => {
    const ssm = fakeSsm([
      [
        { Name: "/apig-taskwatch/prod/OTC_ACCESS_KEY", Value: "AK" },
        { Name: "/apig-taskwatch/prod/PATH", Value: "/evil" },
      ],
      [
        { Name: "/apig-taskwatch/prod/otc/OTC_SECRET_KEY", Value: "SK" },
        { Name: "/apig-taskwatch/prod/API_KEYS", Value: `ci:${"a".repeat(64)}` },
        { Name: "/apig-taskwatch/prod/TABLE_NAME", Value: "someone-elses-table" },
      ],
    ]);
    const env = await withSsmSecrets({ OTC_REGION: "eu-nl", PATH: "/usr/bin", TABLE_NAME: "t" }, ssm, "/apig-taskwatch/prod/");
    expect(env).toEqual({
      OTC_REGION: "eu-nl",
      PATH: "/usr/bin",
      TABLE_NAME: "t",
      OTC_ACCESS_KEY: "AK",
      OTC_SECRET_KEY: "SK",
      API_KEYS: `ci:${"a".repeat(64)}`,
    });
    expect(ssm.calls).toEqual([
      { Path: "/apig-taskwatch/prod", Recursive: true, WithDecryption: true, NextToken: undefined },
      { Path: "/apig-taskwatch/prod", Recursive: true, WithDecryption: true, NextToken: "1" },
    ]);
    const config = loadConfig(env);
    expect(config.auth).toEqual({ method: "aksk", accessKey: "AK", secretKey: "SK" });
    expect(config.apiKeys.map((k) => k.tenant)).toEqual(["ci"]);
  });

  it("overrides a plain environment value with the SSM one", async () => {
    const ssm = fakeSsm([[{ Name: "/svc/dev/OTC_AUTH_TOKEN", Value: "from-ssm" }]]);
    expect((await withSsmSecrets({ OTC_AUTH_TOKEN: "stale" }, ssm, "/svc/dev")).OTC_AUTH_TOKEN).toBe("from-ssm");
  });

  it("refuses two parameters for one variable and names both, without their values", async () => {
    const ssm = fakeSsm([
      [{ Name: "/svc/dev/OTC_PASSWORD", Value: "hunter2" }],
      [{ Name: "/svc/dev/old/OTC_PASSWORD", Value: "letmein" }],
    ]);
    const err = await withSsmSecrets({}, ssm, "/svc/dev/").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretsError);
    expect((err as Error).message).toBe("/svc/dev/OTC_PASSWORD and /svc/dev/old/OTC_PASSWORD both set OTC_PASSWORD");
    expect((err as Error).message).not.toMatch(/hunter2|letmein/);
  });

  it("leaves the environment as it was when the path is empty", async () => {
    const ssm = fakeSsm([[]]);
    expect(await withSsmSecrets({ OTC_REGION: "eu-de" }, ssm, "/svc/dev/")).toEqual({ OTC_REGION: "eu-de" });
  });
});
