/** The `Retry-After` header (RFC 9110): seconds or an HTTP date. */

/**
 * Milliseconds to wait, from `now`; capped at a day; undefined when the
 * header is absent or unreadable.
 */
export function parseRetryAfter(v: string | string[] | undefined, now: Date): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s.trim() === "") return undefined;
  let ms: number;
  if (/^\d+$/.test(s.trim())) ms = Number(s.trim()) * 1000;
  else {
    const t = Date.parse(s);
    if (Number.isNaN(t)) return undefined;
    ms = t - now.getTime();
  }
  return Math.min(Math.max(ms, 0), 86_400_000);
}
