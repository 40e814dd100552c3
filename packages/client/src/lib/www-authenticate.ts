/**
 * Whether a `WWW-Authenticate` header carries a Bearer challenge with `error="invalid_token"`
 * (RFC 6750 §3.1), or a DPoP one (RFC 9449 §7.1): the resource server says the access token itself is bad (expired, revoked),
 * which a fresh token can fix. Other errors (`insufficient_scope`, `invalid_request`) cannot.
 */
export function isInvalidTokenChallenge(header: string | null): boolean {
  if (!header) return false;
  return parseChallenges(header).some(
    (challenge) => (challenge.scheme === 'bearer' || challenge.scheme === 'dpop') && challenge.params.get('error') === 'invalid_token',
  );
}

/** Whether a `WWW-Authenticate` header carries a DPoP challenge with `error="use_dpop_nonce"` (RFC 9449 §9). */
export function isNonceChallenge(header: string | null): boolean {
  if (!header) return false;
  return parseChallenges(header).some((challenge) => challenge.scheme === 'dpop' && challenge.params.get('error') === 'use_dpop_nonce');
}

interface Challenge {
  scheme: string;
  params: Map<string, string>;
}

const AUTH_PARAM = /^([!#$%&'*+.^_`|~\w-]+)\s*=\s*(.*)$/s;

// RFC 9110 §11.6.1: challenges and their auth-params share one comma-separated list; an item that
// is not `name=value` starts a new challenge (`scheme`, `scheme token68` or `scheme name=value`).
function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  for (const raw of splitOutsideQuotes(header)) {
    const item = raw.trim();
    if (!item) continue;
    let param = item;
    if (!AUTH_PARAM.test(item)) {
      const space = item.search(/\s/);
      const scheme = space === -1 ? item : item.slice(0, space);
      challenges.push({ scheme: scheme.toLowerCase(), params: new Map() });
      param = space === -1 ? '' : item.slice(space).trim();
    }
    const match = AUTH_PARAM.exec(param);
    const current = challenges.at(-1);
    if (!match || !current) continue;
    const [, name = '', rawValue = ''] = match;
    const value = rawValue.startsWith('"') ? rawValue.slice(1, -1).replace(/\\(.)/g, '$1') : rawValue.trim();
    current.params.set(name.toLowerCase(), value);
  }
  return challenges;
}

function splitOutsideQuotes(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted && char === '\\') {
      current += char + (text[i + 1] ?? '');
      i++;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}
