import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Session, SessionContext, User } from '../store/port.js';
import { REUSE_AUDIT_TYPE, decideRotation, type RotationPolicy } from './rotation.js';

const T0 = Date.UTC(2031, 0, 1);
const POLICY: RotationPolicy = { idleMs: 1_800_000, graceMs: 10_000, refreshLimit: 5, refreshWindowMs: 60_000 };
const SOURCE = { address: '203.0.113.9', userAgent: 'rotation.test' };
const SID = '00000000-0000-4000-8000-000000000001';
/** Who made the last rotation: not {@link SOURCE}, unless a row says so. */
const ROTATOR = { address: '192.0.2.1', userAgent: 'the client' };

const user: User = {
  id: 'u1',
  username: 'app',
  passwordHash: 'h',
  enabled: true,
  notBefore: 0,
  canIntrospect: false,
  requireDpop: false,
  createdAt: T0,
  updatedAt: T0,
};

/** A session at generation 3, rotated at T0 + 60 s (the previous token was issued at T0 + 30 s). */
function context(overrides: Partial<Session> = {}, userOverrides: Partial<User> = {}, realmNotBefore = 0): SessionContext {
  return {
    session: {
      id: SID,
      userId: user.id,
      createdAt: T0,
      idleExpiresAt: T0 + 60_000 + POLICY.idleMs,
      maxExpiresAt: T0 + 36_000_000,
      lastRefreshAt: T0 + 60_000,
      endedAt: null,
      endReason: null,
      sourceAddress: SOURCE.address,
      userAgent: SOURCE.userAgent,
      generation: 3,
      tokenIssuedAt: T0 + 60_000,
      previousIssuedAt: T0 + 30_000,
      rotatedBy: ROTATOR,
      rotationWindowStart: T0 + 30_000,
      rotationsInWindow: 2,
      ...overrides,
    },
    user: { ...user, ...userOverrides },
    realmNotBefore,
  };
}

const ROTATED_AT = T0 + 60_000;
const token = (generation: number) => ({ sessionId: SID, generation });

describe('decideRotation: a table of session states × presented generations', () => {
  const rows: Array<{ name: string; ctx: SessionContext | null; generation: number; now: number; policy?: RotationPolicy; kind: string }> = [
    { name: 'no such session', ctx: null, generation: 0, now: ROTATED_AT, kind: 'unknown' },
    { name: 'a generation the session never reached', ctx: context(), generation: 4, now: ROTATED_AT + 1, kind: 'unknown' },
    { name: 'the live token', ctx: context(), generation: 3, now: ROTATED_AT + 1, kind: 'rotated' },
    { name: 'the live token, the session at its refresh limit in the window', ctx: context({ rotationsInWindow: 5 }), generation: 3, now: ROTATED_AT + 1, kind: 'throttled' },
    { name: 'the live token, the limit reached in a window that has ended', ctx: context({ rotationsInWindow: 5 }), generation: 3, now: T0 + 90_000, kind: 'rotated' },
    { name: 'the previous token inside the grace window, the session at its limit', ctx: context({ rotationsInWindow: 5 }), generation: 2, now: ROTATED_AT + 1, kind: 'replayed' },
    { name: 'the previous token inside the grace window', ctx: context(), generation: 2, now: ROTATED_AT + 10_000, kind: 'replayed' },
    { name: 'the previous token just past the grace window', ctx: context(), generation: 2, now: ROTATED_AT + 10_001, kind: 'reused' },
    { name: 'the previous token with grace 0', ctx: context(), generation: 2, now: ROTATED_AT, policy: { ...POLICY, graceMs: 0 }, kind: 'reused' },
    { name: 'the previous token past the window, from the source that rotated', ctx: context({ rotatedBy: SOURCE }), generation: 2, now: ROTATED_AT + 600_000, kind: 'replayed' },
    { name: 'the previous token past the window, same address, other user agent', ctx: context({ rotatedBy: { ...SOURCE, userAgent: 'curl' } }), generation: 2, now: ROTATED_AT + 600_000, kind: 'reused' },
    { name: 'the previous token from the rotating source with grace 0', ctx: context({ rotatedBy: SOURCE }), generation: 2, now: ROTATED_AT, policy: { ...POLICY, graceMs: 0 }, kind: 'reused' },
    { name: 'a token two generations old from the rotating source', ctx: context({ rotatedBy: SOURCE }), generation: 1, now: ROTATED_AT + 1, kind: 'reused' },
    { name: 'a token two generations old, inside the window', ctx: context(), generation: 1, now: ROTATED_AT + 1, kind: 'reused' },
    { name: 'the first token of a long chain', ctx: context(), generation: 0, now: ROTATED_AT + 1, kind: 'reused' },
    { name: 'the live token of an ended session', ctx: context({ endedAt: T0, endReason: 'logout' }), generation: 3, now: ROTATED_AT + 1, kind: 'session_ended' },
    { name: 'an old token of an ended session', ctx: context({ endedAt: T0, endReason: 'reuse' }), generation: 1, now: ROTATED_AT + 1, kind: 'session_ended' },
    { name: "the live token of a disabled user's session", ctx: context({}, { enabled: false }), generation: 3, now: ROTATED_AT + 1, kind: 'session_ended' },
    { name: 'the live token at its idle expiry', ctx: context(), generation: 3, now: ROTATED_AT + POLICY.idleMs, kind: 'expired' },
    { name: 'an old token once the session is idle', ctx: context(), generation: 1, now: ROTATED_AT + POLICY.idleMs, kind: 'expired' },
    { name: 'the live token at the max lifetime', ctx: context({ maxExpiresAt: ROTATED_AT + 5 }), generation: 3, now: ROTATED_AT + 5, kind: 'expired' },
    { name: 'the live token issued before the realm policy', ctx: context({}, {}, ROTATED_AT + 1000), generation: 3, now: ROTATED_AT + 2000, kind: 'stale' },
    { name: 'the live token issued at the realm policy', ctx: context({}, {}, ROTATED_AT), generation: 3, now: ROTATED_AT + 2000, kind: 'rotated' },
    { name: "the live token issued before the user's policy", ctx: context({}, { notBefore: ROTATED_AT + 1 }), generation: 3, now: ROTATED_AT + 2, kind: 'stale' },
    { name: 'the previous token issued before the policy, inside the window', ctx: context({}, {}, ROTATED_AT), generation: 2, now: ROTATED_AT + 1, kind: 'stale' },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.kind}`, () => {
      assert.equal(decideRotation(row.ctx, token(row.generation), row.now, row.policy ?? POLICY, SOURCE).kind, row.kind);
    });
  }
});

describe('decideRotation: what each outcome writes', () => {
  it('a rotation moves to the next generation, slides the idle expiry and changes only from the generation it read', () => {
    const now = ROTATED_AT + 5000;
    const decision = decideRotation(context(), token(3), now, POLICY, SOURCE);
    assert.equal(decision.kind, 'rotated');
    assert.deepEqual(decision.change, {
      sessionId: SID,
      expectedGeneration: 3,
      patch: {
        generation: 4,
        tokenIssuedAt: now,
        previousIssuedAt: ROTATED_AT,
        idleExpiresAt: now + POLICY.idleMs,
        lastRefreshAt: now,
        rotatedBy: SOURCE,
        rotationWindowStart: T0 + 30_000,
        rotationsInWindow: 3,
      },
    });
    assert.equal(decision.grant.generation, 4);
    assert.equal(decision.grant.tokenExpiresAt, now + POLICY.idleMs);
    assert.equal(decision.grant.context.session.generation, 4);
  });

  it('the idle expiry never slides past the max lifetime', () => {
    const decision = decideRotation(context({ maxExpiresAt: ROTATED_AT + 100_000 }), token(3), ROTATED_AT + 1, POLICY, SOURCE);
    assert.equal(decision.kind, 'rotated');
    assert.equal(decision.grant.tokenExpiresAt, ROTATED_AT + 100_000);
  });

  it('a replay writes nothing and hands out the live generation with its own issue and expiry times', () => {
    const ctx = context();
    const decision = decideRotation(ctx, token(2), ROTATED_AT + 1, POLICY, SOURCE);
    assert.equal(decision.kind, 'replayed');
    assert.equal('change' in decision, false);
    assert.deepEqual(decision.grant, { context: ctx, generation: 3, tokenIssuedAt: ROTATED_AT, tokenExpiresAt: ctx.session.idleExpiresAt });
  });

  it('reuse ends the session for "reuse" and records who presented the token', () => {
    const now = ROTATED_AT + 20_000;
    const decision = decideRotation(context(), token(1), now, POLICY, SOURCE);
    assert.equal(decision.kind, 'reused');
    assert.deepEqual(decision.change.patch, { endedAt: now, endReason: 'reuse' });
    assert.equal(decision.change.expectedGeneration, 3);
    assert.equal(decision.change.audit?.type, REUSE_AUDIT_TYPE);
    assert.equal(decision.change.audit?.sourceAddress, SOURCE.address);
    assert.equal(decision.change.audit?.userAgent, SOURCE.userAgent);
    assert.equal(decision.change.audit?.sessionId, SID);
  });

  it('refusals write nothing', () => {
    for (const [ctx, generation, now] of [
      [context({ endedAt: T0 }), 3, ROTATED_AT],
      [context(), 3, ROTATED_AT + POLICY.idleMs],
      [context({}, {}, ROTATED_AT + 1000), 3, ROTATED_AT + 2000],
      [null, 0, ROTATED_AT],
    ] as const) {
      assert.equal('change' in decideRotation(ctx, token(generation), now, POLICY, SOURCE), false);
    }
  });
});

describe('decideRotation: the per-session refresh rate', () => {
  it('counts rotations in the window, starts a new window when it has passed, and says how long to wait when over', () => {
    const inWindow = decideRotation(context(), token(3), ROTATED_AT + 1, POLICY, SOURCE);
    assert.equal(inWindow.kind, 'rotated');
    assert.equal(inWindow.change.patch.rotationsInWindow, 3);
    assert.equal(inWindow.change.patch.rotationWindowStart, T0 + 30_000);
    const later = T0 + 90_001;
    const fresh = decideRotation(context({ rotationsInWindow: 5 }), token(3), later, POLICY, SOURCE);
    assert.equal(fresh.kind, 'rotated');
    assert.deepEqual([fresh.change.patch.rotationWindowStart, fresh.change.patch.rotationsInWindow], [later, 1]);
    assert.deepEqual(decideRotation(context({ rotationsInWindow: 5 }), token(3), T0 + 60_000, POLICY, SOURCE), {
      kind: 'throttled',
      retryAfterMs: 30_000,
    });
  });
});
