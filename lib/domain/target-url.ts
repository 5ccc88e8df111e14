/**
 * The target-URL policy: which receiver URLs and addresses a notification may
 * go to (https, no private, loopback, link-local, metadata or other reserved
 * address). Pure; `notify/ssrf-guard.ts` applies it again when a connection
 * is made, on the very address the socket opens to.
 */
import net from "node:net";

/** Verdict on one IP address. */
export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };



// ---------------------------------------------------------------------------
// Address classification
// ---------------------------------------------------------------------------

interface V4Range {
  base: number;
  bits: number;
  reason: string;
}

function v4(s: string): number {
  const parts = s.split(".").map(Number);
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

function inV4(ip: number, base: number, bits: number): boolean {
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return (ip & mask) >>> 0 === (base & mask) >>> 0;
}

// Most specific first: the first match names the reason.
const V4_BLOCKED: V4Range[] = [
  { base: v4("169.254.169.254"), bits: 32, reason: "cloud metadata address" },
  { base: v4("255.255.255.255"), bits: 32, reason: "broadcast address" },
  { base: v4("0.0.0.0"), bits: 8, reason: "unspecified address (0.0.0.0/8)" },
  { base: v4("10.0.0.0"), bits: 8, reason: "private address (10.0.0.0/8)" },
  { base: v4("100.64.0.0"), bits: 10, reason: "carrier-grade NAT address (100.64.0.0/10)" },
  { base: v4("127.0.0.0"), bits: 8, reason: "loopback address (127.0.0.0/8)" },
  { base: v4("169.254.0.0"), bits: 16, reason: "link-local address (169.254.0.0/16)" },
  { base: v4("172.16.0.0"), bits: 12, reason: "private address (172.16.0.0/12)" },
  { base: v4("192.0.0.0"), bits: 24, reason: "IETF protocol assignment (192.0.0.0/24)" },
  { base: v4("192.0.2.0"), bits: 24, reason: "documentation address (192.0.2.0/24)" },
  { base: v4("192.88.99.0"), bits: 24, reason: "6to4 relay anycast (192.88.99.0/24)" },
  { base: v4("192.168.0.0"), bits: 16, reason: "private address (192.168.0.0/16)" },
  { base: v4("198.18.0.0"), bits: 15, reason: "benchmarking address (198.18.0.0/15)" },
  { base: v4("198.51.100.0"), bits: 24, reason: "documentation address (198.51.100.0/24)" },
  { base: v4("203.0.113.0"), bits: 24, reason: "documentation address (203.0.113.0/24)" },
  { base: v4("224.0.0.0"), bits: 4, reason: "multicast address (224.0.0.0/4)" },
  { base: v4("240.0.0.0"), bits: 4, reason: "reserved address (240.0.0.0/4)" },
];

function classifyV4(ip: number): AddressVerdict {
  for (const r of V4_BLOCKED) if (inV4(ip, r.base, r.bits)) return { allowed: false, reason: r.reason };
  return { allowed: true };
}

/** Eight 16-bit groups of a string `net.isIPv6` accepted; zone id dropped. */
function v6Groups(s: string): number[] {
  let text = s.split("%")[0] ?? "";
  // A dotted IPv4 tail (`::ffff:1.2.3.4`) becomes two hex groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    const n = v4(tail);
    text = `${text.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = "", rest] = text.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = rest === undefined || rest === "" ? [] : rest.split(":");
  const fill = rest === undefined ? [] : new Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}

function g(groups: number[], i: number): number {
  return groups[i] ?? 0;
}

function embeddedV4(hi: number, lo: number): number {
  return ((hi << 16) | lo) >>> 0;
}

function v4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
}

/** An IPv6 address that stands for an IPv4 one is judged by that IPv4 address. */
function viaV4(kind: string, n: number): AddressVerdict {
  const inner = classifyV4(n);
  return inner.allowed ? inner : { allowed: false, reason: `${kind} of ${v4Text(n)}: ${inner.reason}` };
}

function classifyV6(groups: number[]): AddressVerdict {
  const [g0, g1, g2, g3, g4, g5, g6, g7] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => g(groups, i)) as [
    number, number, number, number, number, number, number, number,
  ];
  const zeroTo = (n: number) => groups.slice(0, n).every((x) => x === 0);

  if (zeroTo(8)) return { allowed: false, reason: "unspecified address (::)" };
  if (zeroTo(7) && g7 === 1) return { allowed: false, reason: "loopback address (::1)" };
  if (zeroTo(5) && g5 === 0xffff) return viaV4("IPv4-mapped address", embeddedV4(g6, g7));
  // ::ffff:0:a.b.c.d (SIIT) is routed like the IPv4 address by translators.
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return viaV4("IPv4-translated address", embeddedV4(g6, g7));
  if (zeroTo(6)) return viaV4("IPv4-compatible address", embeddedV4(g6, g7));
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return viaV4("NAT64 address", embeddedV4(g6, g7));
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return { allowed: false, reason: "local-use NAT64 address (64:ff9b:1::/48)" };
  if (g0 === 0x2002) return viaV4("6to4 address", embeddedV4(g1, g2));
  if (g0 === 0xfd00 && g1 === 0x0ec2 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0 && g6 === 0 && g7 === 0x254) {
    return { allowed: false, reason: "cloud metadata address" };
  }
  if ((g0 & 0xfe00) === 0xfc00) return { allowed: false, reason: "unique-local address (fc00::/7)" };
  if ((g0 & 0xffc0) === 0xfe80) return { allowed: false, reason: "link-local address (fe80::/10)" };
  if ((g0 & 0xffc0) === 0xfec0) return { allowed: false, reason: "site-local address (fec0::/10)" };
  if ((g0 & 0xff00) === 0xff00) return { allowed: false, reason: "multicast address (ff00::/8)" };
  if (g0 === 0x2001 && g1 === 0x0db8) return { allowed: false, reason: "documentation address (2001:db8::/32)" };
  if (g0 === 0x3fff && (g1 & 0xf000) === 0) {
    return { allowed: false, reason: "documentation address (3fff::/20)" };
  }
  // 2001::/23 holds Teredo (whose IPv4 is obfuscated), benchmarking and other
  // special-purpose blocks; no webhook receiver lives there.
  if (g0 === 0x2001 && g1 < 0x0200) return { allowed: false, reason: "IETF special-purpose address (2001::/23)" };
  // Only 2000::/3 is global unicast; everything else is reserved.
  if ((g0 & 0xe000) !== 0x2000) return { allowed: false, reason: "reserved address (outside 2000::/3)" };
  return { allowed: true };
}

/**
 * Whether a connection to this IP address is acceptable for a user-supplied
 * notification target. IPv6 addresses that carry an IPv4 address (mapped,
 * compatible, NAT64, 6to4) are judged by the IPv4 inside.
 *
 * @param ip an IPv4 or IPv6 address in text form (an IPv6 zone id is ignored)
 */
export function classifyAddress(ip: string): AddressVerdict {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  if (net.isIPv4(bare)) return classifyV4(v4(bare));
  if (net.isIPv6(bare)) return classifyV6(v6Groups(bare));
  return { allowed: false, reason: "not an IP address" };
}

// ---------------------------------------------------------------------------
// URL check at registration
// ---------------------------------------------------------------------------

// Names that resolve to the machine itself or to cloud-internal services, or
// whose meaning depends on the resolver's search path.
const INTERNAL_SUFFIXES = [".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".intranet", ".corp", ".lan"];

function hostNameProblem(host: string): string | null {
  if (host === "localhost" || host === "localhost.localdomain") return "host name localhost is not allowed";
  for (const s of INTERNAL_SUFFIXES) {
    if (host.endsWith(s) || host === s.slice(1)) return `host names ending ${s} are not allowed`;
  }
  // A single label (`metadata`, `intranet`) is completed by the resolver's
  // search domains, i.e. it names something inside our network.
  if (!host.includes(".")) return "host name must be fully qualified";
  return null;
}

/**
 * Validate a notification target URL when it is registered. Scheme `https`
 * (plain `http` too when `allowPrivate`), no user info, and a host that is
 * neither a refused IP literal (in any spelling the WHATWG parser turns into
 * one: `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`, `[::ffff:7f00:1]`) nor a
 * local or cloud-internal name. Names are resolved only at connection time,
 * where `guardedConnector` checks the addresses.
 */
export function checkTargetUrl(
  url: string,
  opts: { allowPrivate: boolean },
): { ok: true; url: URL } | { ok: false; message: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, message: "is not a valid URL" };
  }
  if (u.protocol !== "https:" && !(opts.allowPrivate && u.protocol === "http:")) {
    return { ok: false, message: opts.allowPrivate ? "must use http or https" : "must use https" };
  }
  if (u.username !== "" || u.password !== "") return { ok: false, message: "must not contain user info" };
  if (u.hostname === "") return { ok: false, message: "must have a host" };
  if (opts.allowPrivate) return { ok: true, url: u };

  // The parser has already normalised every IPv4 spelling to dotted decimal
  // and IPv6 to its compressed bracketed form, so one check covers them all.
  const bare = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  if (net.isIP(bare) !== 0) {
    const verdict = classifyAddress(bare);
    return verdict.allowed ? { ok: true, url: u } : { ok: false, message: `must not target ${u.hostname}: ${verdict.reason}` };
  }
  // `localhost.` (trailing dot) is the same name as `localhost`.
  const problem = hostNameProblem(u.hostname.toLowerCase().replace(/\.+$/, ""));
  return problem === null ? { ok: true, url: u } : { ok: false, message: problem };
}
