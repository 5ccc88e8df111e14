import type { LookupAddress } from "node:dns";
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createGuardedAgent, type LookupAll } from "../../lib/notify/ssrf-guard";

let server: Server;
let port: number;
let hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(`${req.method} ${req.headers.host} ${req.url}`);
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  // Count connections too: a refused target must not even see a TCP handshake.
  server.on("connection", () => hits.push("connection"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  hits = [];
});

/** A resolver that knows only `evil.test`, like a hostile DNS zone would answer. */
function fakeLookup(addresses: LookupAddress[]): LookupAll & { calls: string[] } {
  const calls: string[] = [];
  const fn = (hostname: string, _opts: { all: true }, cb: (err: NodeJS.ErrnoException | null, a: LookupAddress[]) => void) => {
    calls.push(hostname);
    if (hostname === "evil.test") setImmediate(() => cb(null, addresses));
    else setImmediate(() => cb(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), []));
  };
  return Object.assign(fn, { calls });
}

async function post(agent: ReturnType<typeof createGuardedAgent>): Promise<{ status: number; body: string }> {
  const res = await request(`http://evil.test:${port}/hook`, { method: "POST", body: "{}", dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text() };
}

describe("guarded connector", () => {
  it("refuses a name that resolves to loopback, and the server sees nothing", async () => {
    const lookup = fakeLookup([{ address: "127.0.0.1", family: 4 }]);
    const agent = createGuardedAgent({ allowPrivate: false, lookup });
    try {
      await expect(post(agent)).rejects.toMatchObject({ code: "ERR_SSRF_BLOCKED" });
      expect(lookup.calls).toEqual(["evil.test"]);
      expect(hits).toEqual([]);
    } finally {
      await agent.close();
    }
  });

  it("refuses when any one of the resolved addresses is private", async () => {
    const lookup = fakeLookup([
      { address: "93.184.216.34", family: 4 },
      { address: "2606:4700::1", family: 6 },
      { address: "127.0.0.1", family: 4 },
    ]);
    const agent = createGuardedAgent({ allowPrivate: false, lookup });
    try {
      const err: unknown = await post(agent).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "ERR_SSRF_BLOCKED", message: expect.stringContaining("127.0.0.1") });
      expect(hits).toEqual([]);
    } finally {
      await agent.close();
    }
  });

  it("refuses IP-literal targets without asking the resolver", async () => {
    const lookup = fakeLookup([]);
    const agent = createGuardedAgent({ allowPrivate: false, lookup });
    try {
      const res = request(`http://127.0.0.1:${port}/`, { dispatcher: agent });
      await expect(res).rejects.toMatchObject({ code: "ERR_SSRF_BLOCKED" });
      expect(lookup.calls).toEqual([]);
      expect(hits).toEqual([]);
    } finally {
      await agent.close();
    }
  });

  it("connects to the resolved address when private targets are allowed, keeping the Host header", async () => {
    const lookup = fakeLookup([{ address: "127.0.0.1", family: 4 }]);
    const agent = createGuardedAgent({ allowPrivate: true, lookup });
    try {
      expect(await post(agent)).toEqual({ status: 200, body: "ok" });
      expect(hits).toEqual(["connection", `POST evil.test:${port} /hook`]);
    } finally {
      await agent.close();
    }
  });

  it("falls back to the next checked address when the first does not answer", async () => {
    // The server listens on 127.0.0.1 only, so 127.0.0.2 refuses the connection.
    const lookup = fakeLookup([
      { address: "127.0.0.2", family: 4 },
      { address: "127.0.0.1", family: 4 },
    ]);
    const agent = createGuardedAgent({ allowPrivate: true, lookup });
    try {
      expect(await post(agent)).toEqual({ status: 200, body: "ok" });
    } finally {
      await agent.close();
    }
  });

  it("reports a resolver failure as a connection error, not a block", async () => {
    const agent = createGuardedAgent({ allowPrivate: false, lookup: fakeLookup([]) });
    try {
      const res = request(`http://nowhere.test:${port}/`, { dispatcher: agent });
      await expect(res).rejects.toMatchObject({ code: "ENOTFOUND" });
    } finally {
      await agent.close();
    }
  });
});

// Self-signed for `evil.test` only, valid until 2125; generated once with openssl.
const CERT = `-----BEGIN CERTIFICATE-----
MIIBlTCCATugAwIBAgIUajd2Qr6HMFeGiF9NlCjRl47gvLcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJZXZpbC50ZXN0MCAXDTI2MTEyODE2NDUwNloYDzIxMjYxMTA0
MTY0NTA2WjAUMRIwEAYDVQQDDAlldmlsLnRlc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARr8yw5sxlWG/eKPgTct05e8S4FNRxuQBP1LgZszxCe8dyzUVGCkyIw
2lRsoQUtOUbJDkM9cvn48tujorEdLqcjo2kwZzAdBgNVHQ4EFgQUCsFRI0dWrhE4
mi4jonv16umfn2IwHwYDVR0jBBgwFoAUCsFRI0dWrhE4mi4jonv16umfn2IwDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglldmlsLnRlc3QwCgYIKoZIzj0EAwID
SAAwRQIgWjHb2UtsF20udorDz/b1yR0RI45vVCwlYQDH+QXr5gUCIQCl3tLn01FE
nCxGv5AL3642/le2lZM6lhePnFEEx2ZDVw==
-----END CERTIFICATE-----`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgE2YdeZ5zWaRe7wqN
D+pyPJ4LV6R4JY9N2pKgTXV0BSihRANCAARr8yw5sxlWG/eKPgTct05e8S4FNRxu
QBP1LgZszxCe8dyzUVGCkyIw2lRsoQUtOUbJDkM9cvn48tujorEdLqcj
-----END PRIVATE KEY-----`;

describe("guarded connector over TLS", () => {
  it("connects to the checked IP but verifies the certificate against the host name", async () => {
    const seen: Array<string | false | null> = [];
    const tls = createTlsServer({ cert: CERT, key: KEY }, (req, res) => {
      seen.push((req.socket as TLSSocket).servername);
      res.end("tls ok");
    });
    await new Promise<void>((resolve) => tls.listen(0, "127.0.0.1", resolve));
    const tlsPort = (tls.address() as AddressInfo).port;
    const lookup: LookupAll = (_host, _opts, cb) => setImmediate(() => cb(null, [{ address: "127.0.0.1", family: 4 }]));
    const agent = createGuardedAgent({ allowPrivate: true, lookup, ca: CERT });
    try {
      const ok = await request(`https://evil.test:${tlsPort}/`, { dispatcher: agent });
      expect(await ok.body.text()).toBe("tls ok");
      expect(seen).toEqual(["evil.test"]);
      // Same IP under another name: the certificate does not match, so no request is made.
      await expect(request(`https://other.test:${tlsPort}/`, { dispatcher: agent })).rejects.toMatchObject({
        code: "ERR_TLS_CERT_ALTNAME_INVALID",
      });
      expect(seen).toEqual(["evil.test"]);
    } finally {
      await agent.close();
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    }
  });
});
