/**
 * OTC credential sets and tenant scopes from the environment:
 * `OTC_CREDENTIALS` (one set, named `default`, or an object of named sets),
 * the separate `OTC_ACCESS_KEY`... variables (the `default` set, as before),
 * `TENANT_PROJECTS` and `TENANT_CREDENTIALS`. Every problem names its
 * variable; no message ever quotes a value.
 */
import * as z from "../domain/zod";
import type { OtcAuth } from "../otc/auth";
import type { ApiKeyHash } from "../http/auth";
import { DEFAULT_CREDENTIAL_SET, type Tenancy } from "../domain/tenancy";
import type { Env } from "../aws/ssm-env";

type Issues = Array<{ variable: string; message: string }>;

const opt = (v: string | undefined) => {
  const t = v?.trim();
  return t === undefined || t === "" ? undefined : t;
};

/** A credential set's name, a tenant's name: what `API_KEYS` allows for a tenant. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** One credential set, as `OTC_CREDENTIALS` spells it: AK/SK, IAM user or a static token. */
const oneSet = z.union([
  z.strictObject({ access_key: z.string().check(z.minLength(1)), secret_key: z.string().check(z.minLength(1)) }),
  z.strictObject({
    username: z.string().check(z.minLength(1)),
    password: z.string().check(z.minLength(1)),
    domain_name: z.string().check(z.minLength(1)),
  }),
  z.strictObject({ token: z.string().check(z.minLength(1)) }),
]);
const SET_SHAPES = '{"access_key","secret_key"}, {"username","password","domain_name"} or {"token"}';
const SET_FIELDS = new Set(["access_key", "secret_key", "username", "password", "domain_name", "token"]);

function authOf(c: z.infer<typeof oneSet>): OtcAuth {
  if ("access_key" in c) return { method: "aksk", accessKey: c.access_key, secretKey: c.secret_key };
  if ("username" in c) return { method: "password", username: c.username, password: c.password, domainName: c.domain_name };
  return { method: "token", token: c.token };
}

/**
 * The credential sets by name. Exactly one way may be used: `OTC_CREDENTIALS`
 * or the separate variables (each complete); with neither, `default` is
 * `none` (the local simulator, or requests APIG will refuse visibly).
 */
export function credentialSets(env: Env, issues: Issues): Map<string, OtcAuth> {
  const s = (name: string) => opt(env[name]);
  const whole = s("OTC_CREDENTIALS");
  if (whole !== undefined) return credentialsFromJson(env, whole, issues);
  const none = new Map<string, OtcAuth>([[DEFAULT_CREDENTIAL_SET, { method: "none" }]]);
  const sets = {
    aksk: ["OTC_ACCESS_KEY", "OTC_SECRET_KEY"],
    password: ["OTC_USERNAME", "OTC_PASSWORD", "OTC_DOMAIN_NAME"],
    token: ["OTC_AUTH_TOKEN"],
  } as const;
  const present = (Object.keys(sets) as Array<keyof typeof sets>).filter((k) => sets[k].some((v) => s(v) !== undefined));
  if (present.length > 1) {
    issues.push({
      variable: present.flatMap((k) => sets[k].filter((v) => s(v) !== undefined)).join(", "),
      message: "set exactly one of: AK/SK (OTC_ACCESS_KEY, OTC_SECRET_KEY), IAM user (OTC_USERNAME, OTC_PASSWORD, OTC_DOMAIN_NAME) or OTC_AUTH_TOKEN",
    });
    return none;
  }
  const kind = present[0];
  if (kind === undefined) return none;
  const missing = sets[kind].filter((v) => s(v) === undefined);
  if (missing.length > 0) {
    issues.push({ variable: missing.join(", "), message: `missing; also needed with ${sets[kind].filter((v) => !missing.includes(v as never)).join(", ")}` });
    return none;
  }
  const auth: OtcAuth =
    kind === "aksk"
      ? { method: "aksk", accessKey: s("OTC_ACCESS_KEY")!, secretKey: s("OTC_SECRET_KEY")! }
      : kind === "password"
        ? { method: "password", username: s("OTC_USERNAME")!, password: s("OTC_PASSWORD")!, domainName: s("OTC_DOMAIN_NAME")! }
        : { method: "token", token: s("OTC_AUTH_TOKEN")! };
  return new Map([[DEFAULT_CREDENTIAL_SET, auth]]);
}

/**
 * `OTC_CREDENTIALS`, which stands alone (with any separate variable it is an
 * error): one set, which is `default`, or `{"name": set, ...}`.
 */
function credentialsFromJson(env: Env, whole: string, issues: Issues): Map<string, OtcAuth> {
  const failed = new Map<string, OtcAuth>([[DEFAULT_CREDENTIAL_SET, { method: "none" }]]);
  const separate = ["OTC_ACCESS_KEY", "OTC_SECRET_KEY", "OTC_USERNAME", "OTC_PASSWORD", "OTC_DOMAIN_NAME", "OTC_AUTH_TOKEN"];
  const also = separate.filter((v) => opt(env[v]) !== undefined);
  if (also.length > 0) {
    issues.push({ variable: ["OTC_CREDENTIALS", ...also].join(", "), message: "set either OTC_CREDENTIALS or the separate variables, not both" });
    return failed;
  }
  let json: unknown;
  try {
    json = JSON.parse(whole);
  } catch {
    json = undefined;
  }
  const bad = (message: string) => {
    issues.push({ variable: "OTC_CREDENTIALS", message });
    return failed;
  };
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return bad(`must be JSON: one set, ${SET_SHAPES}, or an object of named sets {"default": {...}, "team-b": {...}}`);
  }
  const keys = Object.keys(json);
  // Never the value, nor zod's message (it may quote the input).
  if (keys.some((k) => SET_FIELDS.has(k))) {
    const r = oneSet.safeParse(json);
    return r.success ? new Map([[DEFAULT_CREDENTIAL_SET, authOf(r.data)]]) : bad(`must be JSON: ${SET_SHAPES}, or an object of named sets`);
  }
  if (keys.length === 0) return bad("names no credential set");
  const out = new Map<string, OtcAuth>();
  for (const name of keys) {
    if (!NAME.test(name)) return bad(`a set name must be 1 to 64 letters, digits, "_", "." or "-" (got one of ${name.length} characters)`);
    const r = oneSet.safeParse((json as Record<string, unknown>)[name]);
    if (!r.success) return bad(`set "${name}" must be ${SET_SHAPES}`);
    out.set(name, authOf(r.data));
  }
  return out;
}

const projectsSchema = z.record(
  z.string().check(z.regex(NAME)),
  z.array(z.string().check(z.minLength(1), z.maxLength(128))),
);
const tenantCredentialsSchema = z.record(z.string().check(z.regex(NAME)), z.string().check(z.regex(NAME)));

function parseJson(env: Env, name: string): { ok: true; value: unknown } | { ok: false } | null {
  const raw = opt(env[name]);
  if (raw === undefined) return null;
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

/**
 * `TENANT_PROJECTS` and `TENANT_CREDENTIALS`. Every set a tenant is mapped to
 * must exist; tenants of `API_KEYS` left unmapped use `default`, which must
 * then exist too.
 */
export function tenancyOf(env: Env, sets: ReadonlyMap<string, OtcAuth>, apiKeys: ApiKeyHash[], issues: Issues): Tenancy {
  let projects: Map<string, string[]> | null = null;
  const p = parseJson(env, "TENANT_PROJECTS");
  if (p !== null) {
    const r = p.ok ? projectsSchema.safeParse(p.value) : null;
    if (r?.success) projects = new Map(Object.entries(r.data));
    else issues.push({ variable: "TENANT_PROJECTS", message: 'must be JSON: {"tenant": ["project id", ...] or ["*"], ...}' });
  }
  const credentials = new Map<string, string>();
  const c = parseJson(env, "TENANT_CREDENTIALS");
  if (c !== null) {
    const r = c.ok ? tenantCredentialsSchema.safeParse(c.value) : null;
    if (!r?.success) {
      issues.push({ variable: "TENANT_CREDENTIALS", message: 'must be JSON: {"tenant": "credential set name", ...}' });
    } else {
      const unknown = Object.entries(r.data).filter(([, set]) => !sets.has(set));
      if (unknown.length > 0) {
        const names = [...new Set(unknown.map(([, set]) => set))].join(", ");
        issues.push({ variable: "TENANT_CREDENTIALS", message: `names credential set(s) ${names}, not in OTC_CREDENTIALS (has: ${[...sets.keys()].join(", ")})` });
      }
      for (const [tenant, set] of Object.entries(r.data)) credentials.set(tenant, set);
    }
  }
  if (!sets.has(DEFAULT_CREDENTIAL_SET)) {
    const unmapped = apiKeys.map((k) => k.tenant).filter((t) => !credentials.has(t));
    if (unmapped.length > 0) {
      issues.push({
        variable: "OTC_CREDENTIALS",
        message: `has no "default" set, which tenant(s) ${[...new Set(unmapped)].join(", ")} use (not in TENANT_CREDENTIALS)`,
      });
    }
  }
  return { projects, credentials };
}
