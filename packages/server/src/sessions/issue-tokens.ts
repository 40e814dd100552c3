import type { AuthService } from '../auth-service.js';
import type { Session, User } from '../store/port.js';
import { signAccessToken } from '../tokens/access-token.js';

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
}

/** Signs an access token for the session and packages it with the session's refresh token. */
export async function issueTokens(
  auth: AuthService,
  grant: {
    user: User;
    session: Session;
    refreshToken: string;
    refreshExpiresAt: number;
    /** The realm-wide not-before policy when the caller already read it (the rotation does). */
    realmNotBefore?: number;
  },
): Promise<TokenGrant> {
  const { user, session } = grant;
  const now = auth.clock.now();
  const issuedAt = Math.floor(now / 1000);
  const maxRemaining = Math.max(0, Math.floor((session.maxExpiresAt - now) / 1000));
  const expiresIn = Math.min(auth.config.accessTokenTtl, maxRemaining);
  const [accessToken, realmNotBefore] = await Promise.all([
    signAccessToken(auth.keys, {
      issuer: auth.config.issuer,
      audience: auth.config.audience,
      subject: user.id,
      clientId: user.username,
      sessionId: session.id,
      issuedAt,
      expiresAt: issuedAt + expiresIn,
    }),
    grant.realmNotBefore ?? auth.store.getRealmNotBefore(),
  ]);
  return {
    accessToken,
    expiresIn,
    refreshExpiresIn: Math.max(0, Math.floor((grant.refreshExpiresAt - now) / 1000)),
    refreshToken: grant.refreshToken,
    sessionId: session.id,
    notBeforePolicy: Math.floor(Math.max(realmNotBefore, user.notBefore) / 1000),
  };
}
