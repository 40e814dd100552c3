/**
 * Reads `Retry-After` (RFC 9110 §10.2.3) as milliseconds to wait. An HTTP-date is measured against
 * the server's own `Date` header when there is one, so a skewed local clock does not distort it.
 */
export function parseRetryAfter(headers: Headers, localNow: number): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  const serverNow = Date.parse(headers.get('date') ?? '');
  return Math.max(0, at - (Number.isNaN(serverNow) ? localNow : serverNow));
}
