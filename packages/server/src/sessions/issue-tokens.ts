import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Session, SessionUser } from '../store/port.js';
import { signAccessToken } from '../tokens/access-token.js';
import type { KeyRing } from '../tokens/keys.js';

/** What a successful grant hands out, before the HTTP layer names the fields as the contract does. */
export interface TokenGrant {
  accessToken: string;
  /** Seconds; never beyond the session's max lifetime. */
  expiresIn: number;
  /** Seconds; min(idle timeout, session max remaining). */
  refreshExpiresIn: number;
  refreshToken: string;
  sessionId: string;
  /** Epoch seconds of the not-before policy that applies to the user; 0 until first set. */
  notBeforePolicy: number;
  /** The DPoP key the access token is bound to (RFC 9449): `token_type` is then `DPoP`. */
  jkt: string | null;
}

/** What signing an access token needs. */
export interface TokenIssuerDeps {
  keys: KeyRing;
  clock: Clock;
  config: Pick<Config, 'issuer' | 'audience' | 'accessTokenTtlMs'>;
}

/** Signs an access token for the session and packages it with the session's refresh token. */
export async function issueTokens(
  deps: TokenIssuerDeps,
  grant: {
    user: SessionUser;
    session: Session;
    refreshToken: string;
    refreshExpiresAt: number;
    /** The realm-wide not-before policy (ms), as read with the session. */
    realmNotBefore: number;
    /** Bind the access token to this DPoP key thumbprint (RFC 9449 §6). */
    jkt?: string | null;
  },
): Promise<TokenGrant> {
  const { user, session } = grant;
  const now = deps.clock.now();
  const policy = Math.max(grant.realmNotBefore, user.notBefore);
  // Never before the policy (a whole second, possibly just ahead of now): see `issueTime`.
  const issuedAt = Math.max(Math.floor(now / 1000), Math.ceil(policy / 1000));
  const maxRemaining = Math.max(0, Math.floor((session.maxExpiresAt - now) / 1000));
  const expiresIn = Math.min(Math.floor(deps.config.accessTokenTtlMs / 1000), maxRemaining);
  const accessToken = signAccessToken(deps.keys, {
    issuer: deps.config.issuer,
    audience: deps.config.audience,
    subject: user.id,
    clientId: user.username,
    sessionId: session.id,
    issuedAt,
    expiresAt: issuedAt + expiresIn,
    ...(grant.jkt ? { jkt: grant.jkt } : {}),
  });
  return {
    accessToken,
    expiresIn,
    refreshExpiresIn: Math.max(0, Math.floor((grant.refreshExpiresAt - now) / 1000)),
    refreshToken: grant.refreshToken,
    sessionId: session.id,
    notBeforePolicy: Math.ceil(policy / 1000),
    jkt: grant.jkt ?? null,
  };
}
