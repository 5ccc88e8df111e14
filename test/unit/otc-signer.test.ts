import { createHash, createHmac } from "node:crypto";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalRequest, formatSdkDate, signRequest, type SignableRequest, stringToSign, verifySignature } from "../../lib/otc/signer";

const AK = "QTWAOYTTINDUT2QVKYUC";
const SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
const NOW = new Date("2026-11-28T10:20:30.456Z");
const HOST = "apig.eu-de.otc.t-systems.com";
const url = new URL(`https://${HOST}/v2/05a8/apigw/instances/eddc/async-tasks/d9ce?b=2&a=1`);
const baseHeaders = { host: HOST, "Content-Type": "application/json", "X-Project-Id": "05a8" };

// Written out from the documented steps with node:crypto, never by calling the library.
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const hmac = (key: string, s: string) => createHmac("sha256", key).update(s).digest("hex");

describe("SDK-HMAC-SHA256 signing", () => {
  it("formats X-Sdk-Date as YYYYMMDDTHHMMSSZ in UTC, dropping milliseconds", () => {
    expect(formatSdkDate(NOW)).toBe("20261128T102030Z");
    expect(formatSdkDate(new Date("2027-01-02T03:04:05.999+02:00"))).toBe("20270102T010405Z");
  });

  it("produces exactly the documented canonical request, string to sign and signature", () => {
    const expectedCanonical =
      "GET\n" +
      "/v2/05a8/apigw/instances/eddc/async-tasks/d9ce/\n" +
      "a=1&b=2\n" +
      "content-type:application/json\nhost:apig.eu-de.otc.t-systems.com\nx-project-id:05a8\nx-sdk-date:20261128T102030Z\n\n" +
      "content-type;host;x-project-id;x-sdk-date\n" +
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const expectedToSign = `SDK-HMAC-SHA256\n20261128T102030Z\n${sha256(expectedCanonical)}`;
    const expectedSig = hmac(SK, expectedToSign);

    const headers = signRequest({ method: "GET", url, headers: baseHeaders }, { accessKey: AK, secretKey: SK }, NOW);

    expect(headers).toEqual({
      ...baseHeaders,
      "X-Sdk-Date": "20261128T102030Z",
      Authorization: `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=${expectedSig}`,
    });
    expect(canonicalRequest({ method: "get", url, headers }, ["x-sdk-date", "Host", "content-type", "X-Project-Id"])).toBe(expectedCanonical);
    expect(stringToSign(expectedCanonical, "20261128T102030Z")).toBe(expectedToSign);
  });

  it("signs the body: a POST body changes the last line and the signature", () => {
    const body = '{"env_id":"DEFAULT_ENVIRONMENT_RELEASE_ID","group_id":"c77f"}';
    const post = new URL(`https://${HOST}/v2/05a8/apigw/instances/eddc/openapi/async-export`);
    const headers = signRequest({ method: "POST", url: post, headers: baseHeaders, body }, { accessKey: AK, secretKey: SK }, NOW);
    const canonical = [
      "POST",
      "/v2/05a8/apigw/instances/eddc/openapi/async-export/",
      "",
      `content-type:application/json\nhost:${HOST}\nx-project-id:05a8\nx-sdk-date:20261128T102030Z\n`,
      "content-type;host;x-project-id;x-sdk-date",
      sha256(body),
    ].join("\n");
    expect(headers.Authorization).toBe(
      `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=${hmac(SK, `SDK-HMAC-SHA256\n20261128T102030Z\n${sha256(canonical)}`)}`,
    );
    // The same bytes as a Uint8Array sign the same.
    const bytes = signRequest({ method: "POST", url: post, headers: baseHeaders, body: new TextEncoder().encode(body) }, { accessKey: AK, secretKey: SK }, NOW);
    expect(bytes.Authorization).toBe(headers.Authorization);
  });

  it("escapes each path segment per RFC 3986 and always ends the URI in exactly one /", () => {
    const line = (u: string) => canonicalRequest({ method: "GET", url: new URL(u), headers: { host: "h" } }, ["host"]).split("\n")[1];
    expect(line("https://h/v2/p%20q/a:b/c*d/e~f/g!h/")).toBe("/v2/p%20q/a%3Ab/c%2Ad/e~f/g%21h/");
    expect(line("https://h/v2/t%C3%BCr/x")).toBe("/v2/t%C3%BCr/x/");
    expect(line("https://h/v2/a%2Fb")).toBe("/v2/a%2Fb/");
    expect(line("https://h/")).toBe("/");
    expect(line("https://h")).toBe("/");
  });

  it("sorts the query by key, then by value, and escapes keys and values", () => {
    const line = (u: string) => canonicalRequest({ method: "GET", url: new URL(u), headers: { host: "h" } }, ["host"]).split("\n")[2];
    expect(line("https://h/x?z=%20&y=a%2Fb&y=0&a")).toBe("a=&y=0&y=a%2Fb&z=%20");
    expect(line("https://h/x?nocatalog=true")).toBe("nocatalog=true");
    expect(line("https://h/x?k=it's(*)")).toBe("k=it%27s%28%2A%29");
    expect(line("https://h/x")).toBe("");
  });

  it("trims header values and lowercases names in the canonical headers", () => {
    const c = canonicalRequest({ method: "GET", url, headers: { Host: HOST, "X-Project-Id": "  05a8 \t" } }, ["X-Project-Id", "host"]);
    expect(c.split("\n").slice(3, 6)).toEqual([`host:${HOST}`, "x-project-id:05a8", ""]);
  });

  it("adds host from the URL when missing and never signs one header twice", () => {
    const h = signRequest(
      { method: "GET", url, headers: { "x-project-id": "old", "X-Project-Id": "05a8", Authorization: "stale", "x-sdk-date": "stale" } },
      { accessKey: AK, secretKey: SK },
      NOW,
    );
    expect(h).toMatchObject({ host: HOST, "X-Project-Id": "05a8", "X-Sdk-Date": "20261128T102030Z" });
    expect(Object.keys(h).filter((k) => k.toLowerCase() === "x-project-id")).toHaveLength(1);
    expect(h.Authorization).toContain("SignedHeaders=host;x-project-id;x-sdk-date,");
  });
});

describe("verifySignature", () => {
  const req: SignableRequest & { body: string } = { method: "GET", url, headers: baseHeaders, body: "" };
  const signed = signRequest(req, { accessKey: AK, secretKey: SK }, NOW);
  const lookup = (ak: string) => (ak === AK ? SK : undefined);
  const check = (patch: Partial<SignableRequest>, now = NOW) => verifySignature({ ...req, headers: signed, ...patch }, lookup, now);

  it("accepts the untouched request, with received header names in any case", () => {
    expect(check({})).toEqual({ ok: true, accessKey: AK });
    const lower = Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), v]));
    expect(check({ headers: lower })).toEqual({ ok: true, accessKey: AK });
  });
  it("accepts a date within the allowed skew", () => expect(check({}, new Date(NOW.getTime() + 14 * 60_000)).ok).toBe(true));

  it.each([
    ["a signed header", { headers: { ...signed, "X-Project-Id": "other" } }],
    ["the path", { url: new URL(url.href.replace("d9ce", "d9cf")) }],
    ["the query", { url: new URL(url.href.replace("a=1", "a=3")) }],
    ["an added query parameter", { url: new URL(`${url.href}&c=4`) }],
    ["the body", { body: "x" }],
    ["the method", { method: "DELETE" }],
    ["the host", { headers: { ...signed, host: "evil.example" } }],
  ] satisfies Array<[string, Partial<SignableRequest>]>)("refuses a tampered request: %s", (_, patch) => {
    expect(check(patch)).toEqual({ ok: false, reason: "signature mismatch" });
  });

  it("refuses a signature made with another secret", () => {
    expect(verifySignature({ ...req, headers: signed }, () => "other-secret", NOW)).toEqual({ ok: false, reason: "signature mismatch" });
  });
  it("refuses an unknown access key", () => {
    expect(verifySignature({ ...req, headers: signed }, () => undefined, NOW)).toEqual({ ok: false, reason: "unknown access key" });
  });
  it("refuses a skewed date, early or late", () => {
    expect(check({}, new Date(NOW.getTime() + 16 * 60_000)).ok).toBe(false);
    expect(check({}, new Date(NOW.getTime() - 16 * 60_000)).ok).toBe(false);
    expect(verifySignature({ ...req, headers: signed }, lookup, new Date(NOW.getTime() + 2000), 1000).ok).toBe(false);
  });
  it("refuses a missing or malformed date and a missing or malformed Authorization", () => {
    const without = (name: string) => Object.fromEntries(Object.entries(signed).filter(([k]) => k !== name));
    expect(check({ headers: without("X-Sdk-Date") }).ok).toBe(false);
    expect(check({ headers: { ...signed, "X-Sdk-Date": "2026-11-28T10:20:30Z" } }).ok).toBe(false);
    expect(check({ headers: without("Authorization") }).ok).toBe(false);
    expect(check({ headers: { ...signed, Authorization: `Bearer ${SK}` } }).ok).toBe(false);
  });
  it("refuses a signature that leaves host or x-sdk-date unsigned, or signs a header not sent", () => {
    const date = "20261128T102030Z";
    const sign = (names: string[], headers: Record<string, string>) => {
      const canonical = canonicalRequest({ ...req, headers }, names);
      return `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=${names.join(";")}, Signature=${hmac(SK, `SDK-HMAC-SHA256\n${date}\n${sha256(canonical)}`)}`;
    };
    const h = { host: HOST, "X-Sdk-Date": date };
    expect(check({ headers: { ...h, Authorization: sign(["x-sdk-date"], h) } }).ok).toBe(false);
    expect(check({ headers: { ...h, Authorization: sign(["host"], h) } }).ok).toBe(false);
    expect(check({ headers: { ...h, Authorization: sign(["host", "x-project-id", "x-sdk-date"], h) } })).toEqual({
      ok: false,
      reason: "signed header x-project-id not received",
    });
    // The minimal valid set passes, so the refusals above are about the header list.
    expect(check({ headers: { ...h, Authorization: sign(["host", "x-sdk-date"], h) } }).ok).toBe(true);
  });
});

describe("signing's shortcuts (the second's date, unreserved segments, the empty body's hash) sign what the documented steps sign", () => {
  // The documented steps once more, with no shortcut: every segment decoded and escaped, every hash computed.
  const rfc3986 = (x: string) => encodeURIComponent(x).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const decode = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  };
  function reference(method: string, u: URL, headers: Record<string, string>, body: string, date: string): string {
    const lower = new Map<string, string>();
    for (const [k, v] of Object.entries(headers)) if (!/^(authorization|x-sdk-date)$/i.test(k)) lower.set(k.toLowerCase(), v.trim());
    if (!lower.has("host")) lower.set("host", u.host);
    lower.set("x-sdk-date", date);
    const names = [...lower.keys()].sort();
    const path = u.pathname.split("/").map((seg) => rfc3986(decode(seg))).join("/");
    const query = [...u.searchParams]
      .map(([k, v]) => [rfc3986(k), rfc3986(v)])
      .sort((a, b) => (a[0] === b[0] ? (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0) : a[0]! < b[0]! ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join("&");
    const canonical = [
      method,
      path.endsWith("/") ? path : `${path}/`,
      query,
      names.map((n) => `${n}:${lower.get(n)}\n`).join(""),
      names.join(";"),
      sha256(body),
    ].join("\n");
    return `SDK-HMAC-SHA256 Access=${AK}, SignedHeaders=${names.join(";")}, Signature=${hmac(SK, `SDK-HMAC-SHA256\n${date}\n${sha256(canonical)}`)}`;
  }
  const segment = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._~-]{0,12}$/), fc.string({ maxLength: 8 }), fc.constantFrom("%41", "%zz", "a%2Fb", "t%C3%BCr"));
  const request = fc.record({
    segments: fc.array(segment, { minLength: 1, maxLength: 6 }),
    query: fc.array(fc.tuple(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), { maxLength: 3 }),
    headers: fc.dictionary(fc.constantFrom("Content-Type", "content-type", "X-Project-Id", "x-extra", "Host"), fc.string({ maxLength: 10 }).map((v) => ` ${v.replace(/[\r\n]/g, "")} `)),
    body: fc.oneof(fc.constant(""), fc.string({ maxLength: 40 })),
    method: fc.constantFrom("GET", "POST"),
    // Times in and across a few seconds, forwards and back: the cached date must follow.
    at: fc.integer({ min: 0, max: 4_000 }),
  });

  it("gives the same headers as the steps computed in full, for any path, query, headers, body and time", () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 1, maxLength: 8 }), (reqs) => {
        for (const r of reqs) {
          const u = new URL(`https://${HOST}/${r.segments.join("/")}`);
          for (const [k, v] of r.query) u.searchParams.append(k, v);
          const now = new Date(NOW.getTime() + r.at);
          const date = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
          const got = signRequest({ method: r.method, url: u, headers: r.headers, body: r.body }, { accessKey: AK, secretKey: SK }, now);
          expect(got["X-Sdk-Date"]).toBe(date);
          expect(got.Authorization).toBe(reference(r.method, u, r.headers, r.body, date));
          // And the simulator's check, which goes through canonicalRequest, accepts it.
          expect(verifySignature({ method: r.method, url: u, headers: got, body: r.body }, () => SK, now).ok).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
