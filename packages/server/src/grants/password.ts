import type { Config } from '../config.js';
import { verifyCredentials, type CredentialDeps } from '../credentials/verify-credentials.js';
import { INVALID_CREDENTIALS, InvalidGrantError } from '../errors.js';
import { issueTokens, type TokenGrant, type TokenIssuerDeps } from '../sessions/issue-tokens.js';
import { startSession } from '../sessions/sessions.js';
import type { Source, Store, User } from '../store/port.js';
import type { RefreshTokens } from '../tokens/refresh-token.js';

/** RFC 6749 §4.3 resource owner password credentials grant, as the AntPeer page describes it. */
export interface PasswordGrantRequest {
  username: string;
  password: string;
  source: Source;
  /** Aborts the password check while it waits for a hashing thread (the caller went away). */
  signal?: AbortSignal;
}

/** What the password grant uses. */
export type PasswordGrantDeps = CredentialDeps &
  TokenIssuerDeps & {
    store: Pick<Store, 'users' | 'sessions' | 'settings' | 'audit'>;
    refreshTokens: RefreshTokens;
    config: Pick<Config, 'sessions'>;
  };

/** Unknown user, wrong password and locked account fail identically (DESIGN §1). */
async function authenticate(deps: PasswordGrantDeps, request: PasswordGrantRequest): Promise<User> {
  const user = await verifyCredentials(deps, request.username, request.password, request.source, request.signal);
  if (!user) throw new InvalidGrantError(INVALID_CREDENTIALS, 401);
  return user;
}

function checkAccountEnabled(user: User): void {
  if (!user.enabled) throw new InvalidGrantError('Account disabled');
}

/** Authenticates a client application and starts a session. */
export async function passwordGrant(deps: PasswordGrantDeps, request: PasswordGrantRequest): Promise<TokenGrant> {
  const user = await authenticate(deps, request);
  checkAccountEnabled(user);
  const realmNotBefore = await deps.store.settings.getRealmNotBefore();
  const { session, refreshToken } = await startSession({ ...deps, policy: deps.config.sessions }, user, request.source, realmNotBefore);
  await deps.store.audit.record({
    at: session.createdAt,
    type: 'login_succeeded',
    userId: user.id,
    sessionId: session.id,
    sourceAddress: request.source.address,
    userAgent: request.source.userAgent,
    detail: 'session started by a password grant',
  });
  return issueTokens(deps, { user, session, refreshToken, refreshExpiresAt: session.idleExpiresAt, realmNotBefore });
}
