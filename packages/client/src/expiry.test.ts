/**
 * The manager never hands out a token that the server's clock considers expired, or about to expire
 * within the safety margin, whatever the lifetime, the server's clock offset, the millisecond of the
 * server's second at which the token is issued, and the network delay. All on the fake clock: the
 * server's clock is the client's plus an offset, and a request in flight moves the clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TokenSet } from './stores/token-store.js';
import { FakeClock } from './test/fake-clock.js';
import { setup } from './test/setup.js';

const LIFETIMES_SECONDS = [2, 3, 5, 10, 30, 60, 300, 900];
/** The server's clock minus the client's. */
const SERVER_OFFSETS_MS = [0, 1_234, -987, 600_999];
/** Where in the server's second the first request arrives. */
const PHASES_MS = [0, 1, 499, 998];
/** Each way, on the fake clock. */
const LATENCY_MS = 40;
/** The default `expiryMarginMs`. */
const MARGIN_MS = 10_000;

function jwtExpiry(token: string): number {
  const [, payload = ''] = token.split('.');
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp: number }).exp;
}

/** The documented margin: `expiryMarginMs`, at most a quarter of the lifetime, rounded up. */
function margin(tokenSet: TokenSet): number {
  return Math.ceil(Math.min(MARGIN_MS, (tokenSet.expiresAt - tokenSet.obtainedAt) / 4));
}

describe('the access token handed out, checked against the server’s clock', () => {
  for (const lifetime of LIFETIMES_SECONDS) {
    test(`${lifetime} s tokens: still the margin left on the server's clock at the last moment each is handed out`, async (t) => {
      for (const offset of SERVER_OFFSETS_MS) {
        for (const phase of PHASES_MS) {
          const where = `lifetime ${lifetime} s, server offset ${offset} ms, phase ${phase} ms`;
          const base = Date.UTC(2030, 0, 1);
          const clock = new FakeClock({ start: base - offset - LATENCY_MS + phase });
          const delayed: typeof fetch = async (input, init) => {
            clock.advance(LATENCY_MS);
            const response = await fetch(input, init);
            clock.advance(LATENCY_MS);
            return response;
          };
          const { manager } = await setup(t, {
            clock,
            serverClockOffsetMs: offset,
            server: { expiresIn: lifetime },
            // No refresh before the last moment: the token is handed out right up to the edge.
            manager: { fetch: delayed, refreshRatio: 1, refreshJitter: 0 },
          });

          const check = (tokenSet: TokenSet, what: string): void => {
            const remaining = jwtExpiry(tokenSet.accessToken) * 1000 - (clock.now() + offset);
            assert.ok(remaining > 0 && remaining >= margin(tokenSet), `${where}, ${what}: ${remaining} ms left, margin ${margin(tokenSet)} ms`);
            const estimated = tokenSet.expiresAt - tokenSet.obtainedAt;
            assert.ok(estimated >= lifetime * 1000 - 1000 - 2 * LATENCY_MS, `${where}, ${what}: lifetime counted ${estimated} ms`);
          };

          let current = await manager.getTokenSet();
          check(current, 'at login');
          for (let round = 1; round <= 3; round++) {
            const edge = current.expiresAt - margin(current) - 1;
            clock.advance(edge - clock.now());
            const last = await manager.getTokenSet();
            assert.equal(last.accessToken, current.accessToken, `${where}, round ${round}: still handed out at the edge`);
            check(last, `round ${round}, at the edge`);
            clock.advance(1);
            const next = await manager.getTokenSet();
            assert.notEqual(next.accessToken, current.accessToken, `${where}, round ${round}: replaced past the edge`);
            check(next, `round ${round}, refreshed`);
            current = next;
          }
        }
      }
    });
  }
});
