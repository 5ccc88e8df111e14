import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalRequest, formatSdkDate, signRequest, stringToSign, verifySignature } from "../../lib/otc-signer";

const AK = "QTWAOYTTINDUT2QVKYUC";
const SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
const NOW = new Date("2026-11-28T10:20:30.456Z");
const url = new URL("https://apig.eu-de.otc.t-systems.com/v2/05a8/apigw/instances/eddc/async-tasks/d9ce?b=2&a=1");
const baseHeaders = { host: "apig.eu-de.otc.t-systems.com", "Content-Type": "application/json", "X-Project-Id": "05a8" };

describe("SDK-HMAC-SHA256 signing", () => {
  it("produces exactly the documented canonical request, string to sign and signature", () => {
    // Written out from the documented steps, not computed by the library.
    const expectedCanonical = [
      "GET",
      "/v2/05a8/apigw/instances/eddc/async-tasks/d9ce/",
      "a=1&b=2",
      "content-type:application/json\nhost:apig.eu-de.otc.t-systems.com\nx-project-id:05a8\nx-sdk-date:20261128T102030Z\n",
      "content-type;host;x-project-id;x-sdk-date",
      createHash("sha256").update("").digest("hex"),
    ].join("\n");
    const expectedToSign = `SDK-HMAC-SHA256\n20261128T102030Z\n${createHash("sha256").update(expectedCanonical).digest("hex")}`;
    const expectedSig = createHmac("sha256", SK).update(expectedToSign).digest("hex");

    expect(formatSdkDate(NOW)).toBe("20261128T102030Z");
    const headers = signRequest({ method: "GET", url, headers: baseHeaders, body: "" }, { accessKey: AK, secretKey: SK }, NOW);
    expect(headers["X-Sdk-Date"]).toBe("20261128T102030Z");
    expect(canonicalRequest({ method: "GET", url, headers, body: "" }, ["content-type", "host", "x-project-id", "x-sdk-date"])).toBe(
      expectedCanonical,
    );
    expect(stringToSign(expectedCanonical, "20261128T102030Z")).toBe(expectedToSign);
    expect(headers.Authorization).toBe(
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=${expectedSig}`,
    );
  });

  it("escapes path segments, always ends the URI in /, sorts the query and hashes the body", () => {
    const u = new URL("https://h.example/v2/p%20q/a:b/c/?z=%20&y=a%2Fb&y=0");
    const c = canonicalRequest({ method: "post", url: u, headers: { host: "h.example" }, body: '{"a":1}' }, ["host"]).split("\n");
    expect(c[0]).toBe("POST");
    expect(c[1]).toBe("/v2/p%20q/a%3Ab/c/");
    expect(c[2]).toBe("y=0&y=a%2Fb&z=%20");
    expect(c.at(-1)).toBe(createHash("sha256").update('{"a":1}').digest("hex"));
  });

  describe("verification catches tampering", () => {
    const req: { method: string; url: URL; headers: Record<string, string>; body: string } = { method: "GET", url, headers: baseHeaders, body: "" };
    const signed = signRequest(req, { accessKey: AK, secretKey: SK }, NOW);
    const lookup = (ak: string) => (ak === AK ? SK : undefined);
    const check = (patch: Partial<typeof req> & { headers?: Record<string, string> }, now = NOW) =>
      verifySignature({ ...req, headers: signed, ...patch }, lookup, now);

    it("accepts the untouched request", () => expect(check({})).toEqual({ ok: true, accessKey: AK }));
    it("header", () => expect(check({ headers: { ...signed, "X-Project-Id": "other" } }).ok).toBe(false));
    it("path", () => expect(check({ url: new URL(url.href.replace("d9ce", "d9cf")) }).ok).toBe(false));
    it("query", () => expect(check({ url: new URL(url.href.replace("a=1", "a=3")) }).ok).toBe(false));
    it("body", () => expect(check({ body: "x" }).ok).toBe(false));
    it("method", () => expect(check({ method: "DELETE" }).ok).toBe(false));
    it("wrong secret", () => expect(verifySignature({ ...req, headers: signed }, () => "other", NOW).ok).toBe(false));
    it("skewed date", () => expect(check({}, new Date(NOW.getTime() + 3_600_000)).ok).toBe(false));
  });
});
