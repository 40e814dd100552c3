import type { AuthService } from '../auth-service.js';
import { INVALID_CREDENTIALS, InvalidGrantError } from '../errors.js';
import { issueTokens, type TokenGrant } from '../sessions/issue-tokens.js';
import { startSession } from '../sessions/sessions.js';
import { verifyCredentials } from '../credentials/verify-credentials.js';
import type { Source, User } from '../store/port.js';

/** RFC 6749 §4.3 resource owner password credentials grant, as the AntPeer page describes it. */
export interface PasswordGrantRequest {
  username: string;
  password: string;
  source: Source;
  /** Aborts the password check while it waits for a hashing thread (the caller went away). */
  signal?: AbortSignal;
}

async function checkSourceRate(auth: AuthService, request: PasswordGrantRequest): Promise<void> {
  await auth.bruteForce.assertSourceAllowed(request.source.address);
}

/** Unknown user, wrong password and locked account fail identically (DESIGN §1). */
async function authenticate(auth: AuthService, request: PasswordGrantRequest): Promise<User> {
  const user = await verifyCredentials(auth, request.username, request.password, request.source, request.signal);
  if (!user) throw new InvalidGrantError(INVALID_CREDENTIALS, 401);
  return user;
}

function checkAccountEnabled(user: User): void {
  if (!user.enabled) throw new InvalidGrantError('Account disabled');
}

/** Authenticates a client application and starts a session. */
export async function passwordGrant(auth: AuthService, request: PasswordGrantRequest): Promise<TokenGrant> {
  await checkSourceRate(auth, request);
  const user = await authenticate(auth, request);
  checkAccountEnabled(user);
  const { session, refreshToken } = await startSession(auth, user, request.source);
  return issueTokens(auth, { user, session, refreshToken, refreshExpiresAt: session.idleExpiresAt });
}
