/**
 * Every kind of event the audit trail records, with what it means. The store keeps the kind as
 * text; the domain writes only these, and `antpeer-auth audit list --kind` accepts only these.
 */
export const AUDIT_KINDS = {
  login_succeeded: 'a password grant started a session',
  login_failed: 'a password grant was refused: unknown username or wrong password',
  login_locked: 'a password grant was refused without a check: the (username, source) pair or the username is locked',
  lockout_started: 'failures reached a lockout threshold: the pair, or the username for unknown sources, is now locked',
  session_limit_reached: 'a login with the right password was refused: too many active sessions',
  refresh_token_reuse: 'an old refresh token was presented: the session was revoked',
  refresh_token_replay: 'the previous refresh token was presented again and converged on the same successor',
  session_logout: 'a session ended by logout',
  session_revoked: 'a session ended by token revocation (RFC 7009)',
  session_revoked_by_operator: 'an operator ended a session, or all of a client application',
  user_added: 'a client application was added',
  user_disabled: 'a client application was disabled (its sessions ended)',
  user_enabled: 'a client application was enabled',
  user_removed: 'a client application was removed',
  user_password_changed: "a client application's password was changed",
  introspection_granted: 'a client application may now introspect others’ tokens',
  introspection_withdrawn: 'a client application may no longer introspect others’ tokens',
  dpop_required: 'an operator required DPoP-bound tokens for a client application',
  dpop_not_required: 'an operator allowed a client application bearer tokens again',
  dpop_key_mismatch: 'a DPoP-bound refresh token was presented without a proof of its key, or with another key: refused',
  not_before_policy_set: 'the not-before policy was set, realm-wide or for one client application',
  key_rotated: 'a new signing key was created',
  admin_added: 'a web console administrator was added',
  admin_removed: 'a web console administrator was removed (their console sessions ended)',
  admin_password_changed: "a web console administrator's password was changed (their console sessions ended)",
  console_login_succeeded: 'an administrator signed in to the web console',
  console_login_failed: 'a web console sign-in was refused: unknown name, wrong password, or locked',
  console_logout: 'an administrator signed out of the web console',
} as const;

/** An audit event kind. */
export type AuditKind = keyof typeof AUDIT_KINDS;

/** Whether `kind` is one the trail records. */
export function isAuditKind(kind: string): kind is AuditKind {
  return Object.hasOwn(AUDIT_KINDS, kind);
}
