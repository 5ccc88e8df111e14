// The simulator's IAM side: POST /v3/auth/tokens, the tokens it issued and their expiry, and the X-Auth-Token / AK/SK check of APIG requests.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { verifySignature } from "../../../lib/otc/signer";
import type { SimulatorOptions } from "./index";
import { errorBody, parseJson } from "./state";

/** A JSON answer; `index.ts` sends it with `content-type: application/json` plus `headers`. */
export interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

const iamRequest = z.object({
  auth: z.object({
    identity: z.object({
      methods: z.array(z.string()).refine((m) => m.includes("password")),
      password: z.object({
        user: z.object({ name: z.string(), password: z.string(), domain: z.object({ name: z.string() }) }),
      }),
    }),
    scope: z.object({ project: z.object({ id: z.string().min(1) }) }),
  }),
});

/** Issues project-scoped tokens to the configured users and checks APIG requests' credentials. */
export class Iam {
  private readonly issued = new Map<string, { projectId: string; expiresAt: number }>();
  private readonly staticTokens: Set<string>;
  private readonly ttlMs: number;

  constructor(
    private readonly opts: Pick<SimulatorOptions, "auth">,
    private readonly now: () => number,
  ) {
    this.staticTokens = new Set(opts.auth?.tokens ?? []);
    this.ttlMs = (opts.auth?.tokenTtlS ?? 86_400) * 1000;
  }

  /** The answer to `POST /v3/auth/tokens` with this body. */
  issueToken(body: Buffer): Reply {
    const parsed = iamRequest.safeParse(parseJson(body.toString("utf8")));
    if (!parsed.success) return { status: 400, body: errorBody("IAM.0007", "Request body is invalid") };
    const { user } = parsed.data.auth.identity.password;
    const projectId = parsed.data.auth.scope.project.id;
    const known = (this.opts.auth?.users ?? []).some(
      (u) => u.name === user.name && u.password === user.password && u.domain === user.domain.name,
    );
    if (!known) return { status: 401, body: errorBody("IAM.0002", "The username or password is wrong") };
    const token = `MII${randomBytes(32).toString("base64url")}`;
    const issuedAt = this.now();
    this.issued.set(token, { projectId, expiresAt: issuedAt + this.ttlMs });
    return {
      status: 201,
      body: JSON.stringify({
        token: {
          expires_at: new Date(issuedAt + this.ttlMs).toISOString(),
          issued_at: new Date(issuedAt).toISOString(),
          methods: ["password"],
          project: { id: projectId, name: "eu-de", domain: { name: user.domain.name } },
          user: { name: user.name, domain: { name: user.domain.name } },
        },
      }),
      headers: { "x-subject-token": token },
    };
  }

  /** Whether an APIG request for `projectId` carries a valid token or AK/SK signature. */
  authorized(req: IncomingMessage, url: URL, body: Buffer, projectId: string): boolean {
    const token = req.headers["x-auth-token"];
    if (typeof token === "string" && token !== "") {
      if (this.staticTokens.has(token)) return true;
      const t = this.issued.get(token);
      // An IAM token is scoped to one project, as on OTC.
      return t !== undefined && t.expiresAt > this.now() && t.projectId === projectId;
    }
    const { accessKey, secretKey } = this.opts.auth ?? {};
    if (accessKey && secretKey && typeof req.headers.authorization === "string") {
      if (req.headers["x-project-id"] !== projectId) return false;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      const check = verifySignature(
        { method: req.method ?? "GET", url, headers, body },
        (ak) => (ak === accessKey ? secretKey : undefined),
        new Date(this.now()),
      );
      return check.ok;
    }
    return false;
  }

  /** Invalidate every token issued so far. */
  expireAll(): void {
    this.issued.clear();
  }
}
