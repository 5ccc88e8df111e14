/** The start banner's lines about tenants: scoped or not (said plainly), and the credential sets. */
import type { Config } from "../../../lib/platform/config";

export function tenancyLines(config: Config): string[] {
  const t = config.tenancy;
  const scopes =
    t.projects === null
      ? "  Tenants:    UNSCOPED: every API key may register and submit for every project the OTC credentials reach (set TENANT_PROJECTS to scope them)"
      : `  Tenants:    scoped by TENANT_PROJECTS (${t.projects.size} tenant(s); a tenant not listed may use no project)`;
  const sets = [...config.credentials.keys()];
  const mapped = t.credentials.size > 0 ? `; TENANT_CREDENTIALS maps ${t.credentials.size} tenant(s), the others use default` : "";
  return [scopes, `  Credentials: ${sets.length} set(s): ${sets.join(", ")}${mapped}`];
}
