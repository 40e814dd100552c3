import type { Config } from '../config.js';
import { verifyCredentials, type CredentialDeps } from '../credentials/verify-credentials.js';
import { INVALID_CREDENTIALS, InvalidDpopProofError, InvalidGrantError } from '../errors.js';
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
  /** The thumbprint of the key of the request's checked DPoP proof, if it carried one (RFC 9449 §5). */
  dpopJkt?: string | null;
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

/** An operator can require sender-constrained tokens of a client application (`users require-dpop`). */
function checkDpopRequirement(user: User, jkt: string | null): void {
  if (user.requireDpop && jkt === null) throw new InvalidDpopProofError('DPoP proof required');
}

/** Authenticates a client application and starts a session. */
export async function passwordGrant(deps: PasswordGrantDeps, request: PasswordGrantRequest): Promise<TokenGrant> {
  const user = await authenticate(deps, request);
  checkAccountEnabled(user);
  const jkt = request.dpopJkt ?? null;
  checkDpopRequirement(user, jkt);
  const realmNotBefore = await deps.store.settings.getRealmNotBefore();
  const { session, refreshToken } = await startSession({ ...deps, policy: deps.config.sessions }, user, request.source, realmNotBefore, jkt);
  return issueTokens(deps, { user, session, refreshToken, refreshExpiresAt: session.idleExpiresAt, realmNotBefore, jkt });
}
