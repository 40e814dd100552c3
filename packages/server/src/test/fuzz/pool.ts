/**
 * The live sessions whose tokens the generators refer to, kept the way a client keeps its tokens:
 * it learns the successor from every answer that rotates one, buries a session when the audit
 * trail says it ended or when its refresh token expires, and logs in again to fill the slot.
 */
import type { AuditRow } from './store-state.js';
import type { SessionTokens } from './materialize.js';
import { GRAVEYARD_SIZE, POOL_SIZE } from './token-shapes.js';

export interface PoolSession extends SessionTokens {
  /** When the access and the refresh token expire (ms, server clock). */
  accessExpiresAt: number;
  refreshExpiresAt: number;
}

interface TokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  session_state: string;
}

function isTokenAnswer(value: unknown): value is TokenAnswer {
  const answer = value as Partial<TokenAnswer> | null;
  return (
    typeof answer === 'object' && answer !== null &&
    typeof answer.access_token === 'string' && typeof answer.refresh_token === 'string' &&
    typeof answer.session_state === 'string' && typeof answer.refresh_expires_in === 'number' && typeof answer.expires_in === 'number'
  );
}

/** A session from a token answer given at `now`; null when the body is not one. */
export function sessionFromAnswer(body: string, now: number): PoolSession | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (!isTokenAnswer(parsed)) return null;
  return {
    sessionId: parsed.session_state,
    access: parsed.access_token,
    refresh: parsed.refresh_token,
    previous: null,
    accessExpiresAt: now + parsed.expires_in * 1000,
    refreshExpiresAt: now + parsed.refresh_expires_in * 1000,
  };
}

export class SessionPool {
  readonly live: (PoolSession | null)[] = new Array<PoolSession | null>(POOL_SIZE).fill(null);
  readonly ended: SessionTokens[] = [];

  constructor(
    private readonly login: () => Promise<PoolSession>,
    /** The session's successor, or null when the refresh was refused. */
    private readonly refresh: (session: PoolSession) => Promise<PoolSession | null>,
  ) {}

  #bury(index: number): void {
    const session = this.live[index];
    if (!session) return;
    this.ended.unshift(session);
    this.ended.length = Math.min(this.ended.length, GRAVEYARD_SIZE);
    this.live[index] = null;
  }

  /**
   * Refreshes sessions whose access token expired, as a client would, and replaces ended and
   * expired sessions with new logins; returns whether it changed anything in the store.
   */
  async fill(now: number): Promise<boolean> {
    let changed = false;
    for (let index = 0; index < POOL_SIZE; index++) {
      const session = this.live[index];
      if (session && session.refreshExpiresAt <= now) this.#bury(index);
      else if (session && session.accessExpiresAt <= now) {
        changed = true;
        const successor = await this.refresh(session);
        if (successor) this.live[index] = { ...successor, previous: session.refresh };
        else this.#bury(index);
      }
      if (this.live[index] === null) {
        this.live[index] = await this.login();
        changed = true;
      }
    }
    return changed;
  }

  sessions(): PoolSession[] {
    return this.live.filter((session): session is PoolSession => session !== null);
  }

  /** Learns from one exchange: the successor a token answer handed out, the sessions the audit trail ended. */
  learn(answer: { status: number; body: string }, events: readonly AuditRow[], now: number): void {
    const fresh = answer.status === 200 ? sessionFromAnswer(answer.body, now) : null;
    const index = fresh === null ? -1 : this.live.findIndex((session) => session?.sessionId === fresh.sessionId);
    const known = this.live[index];
    if (fresh !== null && known) {
      this.live[index] = { ...fresh, previous: known.refresh === fresh.refresh ? known.previous : known.refresh };
    }
    for (const event of events) {
      if (event.type !== 'session_logout' && event.type !== 'session_revoked' && event.type !== 'refresh_token_reuse') continue;
      const ended = this.live.findIndex((session) => session?.sessionId === event.sessionId);
      if (ended >= 0) this.#bury(ended);
    }
  }

  /** Every token the pool holds: none of them may ever show in a log. */
  secrets(): string[] {
    return [...this.sessions(), ...this.ended].flatMap((session) => [session.access, session.refresh, ...(session.previous ? [session.previous] : [])]);
  }
}
