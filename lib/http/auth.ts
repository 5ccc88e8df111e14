/** Bearer API keys -> tenant, compared as SHA-256 hashes in constant time. */
import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors";

export interface ApiKeyHash {
  tenant: string;
  /** 32-byte SHA-256 of the key. */
  hash: Buffer;
}


/**
 * Bearer key -> tenant. Every configured hash is compared, in constant time,
 * so the answer time does not tell which tenant's key was close.
 */
export function authenticate(keys: ApiKeyHash[], header: string | undefined): string {
  const m = header === undefined ? null : /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
  if (!m) throw new HttpError(401, "unauthorized", "missing or malformed Authorization: Bearer <api key>");
  const presented = createHash("sha256").update(m[1]!).digest();
  let tenant: string | null = null;
  for (const k of keys) {
    if (timingSafeEqual(presented, k.hash) && tenant === null) tenant = k.tenant;
  }
  if (tenant === null) throw new HttpError(401, "unauthorized", "unknown API key");
  return tenant;
}
