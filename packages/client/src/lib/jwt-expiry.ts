/**
 * Reads the `exp` claim (RFC 7519 §4.1.4) of an access token that happens to be a JWT, without
 * verifying it: the client only uses it as a second opinion on when the token expires, never to
 * trust anything. Returns epoch seconds, or undefined for an opaque token.
 */
export function readJwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const claims: unknown = JSON.parse(json);
    if (claims && typeof claims === 'object' && 'exp' in claims) {
      const exp = (claims as { exp: unknown }).exp;
      if (typeof exp === 'number' && Number.isFinite(exp) && exp > 0) return exp;
    }
  } catch {
    // not a JWT after all
  }
  return undefined;
}
