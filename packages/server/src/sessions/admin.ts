import type { Clock } from '../clock.js';
import type { Actor } from '../credentials/client-applications.js';
import type { Session, Store, User } from '../store/port.js';

type Deps = { store: Pick<Store, 'sessions' | 'audit'>; clock: Clock };

/** An operator ends one session at once; recorded in the audit trail. Returns whether it was open. */
export async function revokeSession(deps: Deps, actor: Actor, session: Session): Promise<boolean> {
  const now = deps.clock.now();
  const ended = await deps.store.sessions.end(session.id, 'revoked', now);
  if (ended) {
    await deps.store.audit.record({
      at: now,
      type: 'session_revoked_by_operator',
      userId: session.userId,
      sessionId: session.id,
      sourceAddress: actor.sourceAddress,
      userAgent: actor.userAgent,
      detail: `session revoked by ${actor.name}`,
    });
  }
  return ended;
}

/** An operator ends every session of a client application; recorded in the audit trail. Returns how many. */
export async function revokeUserSessions(deps: Deps, actor: Actor, user: User): Promise<number> {
  const now = deps.clock.now();
  const ended = await deps.store.sessions.endAllOfUser(user.id, 'revoked', now);
  await deps.store.audit.record({
    at: now,
    type: 'session_revoked_by_operator',
    userId: user.id,
    sessionId: null,
    sourceAddress: actor.sourceAddress,
    userAgent: actor.userAgent,
    detail: `${ended} session(s) of "${user.username}" revoked by ${actor.name}`,
  });
  return ended;
}
