import type { AuditRecord } from '../store/port.js';

const RELATIVE_TIME = /^(\d+)(s|m|h|d)$/;
/** The furthest a JavaScript date reaches either side of 1970 (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** What a time filter of the trail accepts, for messages. */
export const AUDIT_TIME_FORMS = 'an ISO 8601 time (2026-11-30T12:00:00Z) or a duration ago (15m, 24h, 7d)';

/** An ISO 8601 time, or a duration before `now` such as `15m`, `24h`, `7d`; null when it is neither. */
export function parseAuditTime(value: string, now: number): number | null {
  const relative = RELATIVE_TIME.exec(value);
  const at = relative
    ? now - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS]
    : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  // Beyond what a date can be (`99999999999999999999d`) is no time either: the stores cannot compare it.
  return Number.isSafeInteger(at) && Math.abs(at) <= MAX_DATE_MS ? at : null;
}

/** An audit event as the CLI and the console export it: ISO 8601 time, the client application by name. */
export function presentAuditEvent(event: AuditRecord, usernames: ReadonlyMap<string, string>) {
  return {
    at: new Date(event.at).toISOString(),
    kind: event.type,
    user: event.userId === null ? null : (usernames.get(event.userId) ?? event.userId),
    session: event.sessionId,
    sourceAddress: event.sourceAddress,
    userAgent: event.userAgent,
    detail: event.detail,
  };
}
