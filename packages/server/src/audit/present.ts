import type { AuditRecord } from '../store/port.js';

const RELATIVE_TIME = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** What a time filter of the trail accepts, for messages. */
export const AUDIT_TIME_FORMS = 'an ISO 8601 time (2026-11-30T12:00:00Z) or a duration ago (15m, 24h, 7d)';

/** An ISO 8601 time, or a duration before `now` such as `15m`, `24h`, `7d`; null when it is neither. */
export function parseAuditTime(value: string, now: number): number | null {
  const relative = RELATIVE_TIME.exec(value);
  if (relative) return now - Number(relative[1]) * UNIT_MS[relative[2] as keyof typeof UNIT_MS];
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? null : at;
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
