/** The fan-out's credentials from Lambda's environment (the invoke itself is an integration test). */
import { describe, expect, it } from "vitest";
import { lambdaEnvCredentials } from "../../lib/aws/lambda-invoke";

describe("lambdaEnvCredentials", () => {
  it("takes the region and the role's credentials from Lambda's environment, or none outside Lambda", () => {
    expect(lambdaEnvCredentials({ AWS_REGION: "eu-central-1", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s", AWS_SESSION_TOKEN: "t" })).toEqual({
      region: "eu-central-1",
      credentials: { accessKeyId: "a", secretAccessKey: "s", sessionToken: "t" },
    });
    expect(lambdaEnvCredentials({ AWS_REGION: "eu-central-1" })).toBeNull();
  });
});
