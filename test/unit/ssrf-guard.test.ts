import { describe, expect, it } from "vitest";
import { checkTargetUrl, classifyAddress } from "../../lib/domain/target-url";

const HOSTILE: string[] = [
  "http://hooks.example.com/x", // plain http
  "https://127.0.0.1/",
  "https://127.1/",
  "https://2130706433/",
  "https://0x7f000001/",
  "https://0x7f.1/",
  "https://0177.0.0.1/",
  "https://[::1]/",
  "https://[::ffff:127.0.0.1]/",
  "https://[::ffff:7f00:1]/",
  "https://[::127.0.0.1]/",
  "https://169.254.169.254/latest/meta-data/",
  "https://[fd00:ec2::254]/",
  "https://10.1.2.3/",
  "https://172.16.0.1/",
  "https://172.31.255.255/",
  "https://192.168.1.1/",
  "https://100.64.0.1/",
  "https://0.0.0.0/",
  "https://0/",
  "https://[::]/",
  "https://224.0.0.1/",
  "https://[ff02::1]/",
  "https://[fe80::1]/",
  "https://[fc00::1]/",
  "https://[fd12:3456::1]/",
  "https://localhost/",
  "https://LOCALHOST./",
  "https://foo.localhost/",
  "https://metadata.google.internal/computeMetadata/v1/",
  "https://printer.local/",
  "https://metadata/",
  "https://user:pass@example.com/",
  "https://user@example.com/",
  "ftp://example.com/",
  "javascript:alert(1)",
  "file:///etc/passwd",
  "not a url",
  "https://255.255.255.255/",
  "https://192.0.2.1/",
  "https://198.18.0.1/",
  "https://198.51.100.7/",
  "https://203.0.113.9/",
  "https://192.0.0.8/",
  "https://240.0.0.1/",
  "https://[64:ff9b::7f00:1]/",
  "https://[64:ff9b::a9fe:a9fe]/",
  "https://[2002:7f00:1::]/",
  "https://[2002:a9fe:a9fe::1]/",
  "https://[2001:db8::1]/",
  "https://[2001::1]/",
];

describe("checkTargetUrl without allowPrivate", () => {
  it.each(HOSTILE)("refuses %s", (url) => {
    const r = checkTargetUrl(url, { allowPrivate: false });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
  });

  it.each(["https://hooks.slack.com/services/x", "https://93.184.216.34/x", "https://[2606:4700::1]/", "https://example.com:8443/hook?x=1", "https://[::ffff:8.8.8.8]/"])(
    "accepts public %s",
    (url) => {
      const r = checkTargetUrl(url, { allowPrivate: false });
      expect(r).toMatchObject({ ok: true });
      if (r.ok) expect(r.url.href.length).toBeGreaterThan(0);
    },
  );

  it("says why: the decimal spelling of 127.0.0.1 is named as loopback", () => {
    const r = checkTargetUrl("https://2130706433/", { allowPrivate: false });
    expect(r).toEqual({ ok: false, message: expect.stringContaining("loopback") });
  });
});

describe("checkTargetUrl with allowPrivate", () => {
  it("accepts loopback over http for local runs", () => {
    expect(checkTargetUrl("http://127.0.0.1:8080/hook", { allowPrivate: true })).toMatchObject({ ok: true });
    expect(checkTargetUrl("http://localhost:8080/", { allowPrivate: true })).toMatchObject({ ok: true });
  });

  it("still refuses other schemes and user info", () => {
    expect(checkTargetUrl("ftp://127.0.0.1/", { allowPrivate: true }).ok).toBe(false);
    expect(checkTargetUrl("http://a:b@127.0.0.1/", { allowPrivate: true }).ok).toBe(false);
  });
});

describe("classifyAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["::1", "loopback"],
    ["169.254.169.254", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["::ffff:169.254.169.254", "metadata"],
    ["64:ff9b::10.0.0.1", "private"],
    ["2002:c0a8:0101::1", "private"],
    ["100.127.255.255", "carrier-grade"],
    ["fe80::1%eth0", "link-local"],
    ["255.255.255.255", "broadcast"],
  ])("refuses %s as %s", (ip, why) => {
    const v = classifyAddress(ip);
    expect(v.allowed).toBe(false);
    if (!v.allowed) expect(v.reason).toContain(why);
  });

  it.each(["8.8.8.8", "93.184.216.34", "100.128.0.1", "172.32.0.1", "2606:4700::1", "2a00:1450:4001::200e", "64:ff9b::808:808"])(
    "allows public %s",
    (ip) => expect(classifyAddress(ip)).toEqual({ allowed: true }),
  );

  it("refuses text that is not an IP address", () => {
    expect(classifyAddress("example.com").allowed).toBe(false);
  });
});
