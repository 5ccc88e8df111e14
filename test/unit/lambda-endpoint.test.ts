/** Where the poller sends its fan-out invokes: the SDKs' endpoint convention. */
import { describe, expect, it } from "vitest";
import { lambdaEndpoint } from "../../lib/aws/lambda-invoke";

describe("lambdaEndpoint", () => {
  it("takes AWS_ENDPOINT_URL_LAMBDA, then AWS_ENDPOINT_URL, as the SDKs do", () => {
    expect(lambdaEndpoint({ AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:9001", AWS_ENDPOINT_URL: "http://127.0.0.1:4566" }, "eu-central-1")).toBe("http://127.0.0.1:9001");
    expect(lambdaEndpoint({ AWS_ENDPOINT_URL: "http://127.0.0.1:4566" }, "eu-central-1")).toBe("http://127.0.0.1:4566");
    expect(lambdaEndpoint({ AWS_ENDPOINT_URL_LAMBDA: "", AWS_ENDPOINT_URL: "http://127.0.0.1:4566" }, "eu-central-1")).toBe("http://127.0.0.1:4566");
  });

  it("ignores both when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true", () => {
    expect(lambdaEndpoint({ AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:9001", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }, "eu-central-1")).toBe(
      "https://lambda.eu-central-1.amazonaws.com",
    );
  });

  it("uses the DNS suffix of the region's partition", () => {
    expect(lambdaEndpoint({}, "eu-central-1")).toBe("https://lambda.eu-central-1.amazonaws.com");
    expect(lambdaEndpoint({}, "us-gov-west-1")).toBe("https://lambda.us-gov-west-1.amazonaws.com");
    expect(lambdaEndpoint({}, "cn-north-1")).toBe("https://lambda.cn-north-1.amazonaws.com.cn");
    expect(lambdaEndpoint({}, "eusc-de-east-1")).toBe("https://lambda.eusc-de-east-1.amazonaws.eu");
    expect(lambdaEndpoint({}, "us-iso-east-1")).toBe("https://lambda.us-iso-east-1.c2s.ic.gov");
    expect(lambdaEndpoint({}, "us-isob-east-1")).toBe("https://lambda.us-isob-east-1.sc2s.sgov.gov");
    expect(lambdaEndpoint({}, "eu-isoe-west-1")).toBe("https://lambda.eu-isoe-west-1.cloud.adc-e.uk");
    expect(lambdaEndpoint({}, "us-isof-south-1")).toBe("https://lambda.us-isof-south-1.csp.hci.ic.gov");
  });
});
