import type { TestContext } from 'node:test';
import type { TokenManagerEvents } from '../events.js';
import type { TokenManagerOptions } from '../options.js';
import { TokenManager } from '../token-manager.js';
import { FakeClock } from './fake-clock.js';
import { FakeServer, type FakeServerOptions } from './fake-server.js';

export const USERNAME = 'app';
export const PASSWORD = 'correct horse battery staple';

const EVENT_NAMES: Array<keyof TokenManagerEvents> = ['login', 'refresh', 'adopt', 'retry', 'failure', 'logout', 'warning'];

export interface Setup {
  clock: FakeClock;
  server: FakeServer;
  manager: TokenManager;
  events: Array<{ type: keyof TokenManagerEvents; event: unknown }>;
  /** Builds another manager against the same server and clock (closed after the test). */
  another(options?: Partial<TokenManagerOptions>): TokenManager;
}

/**
 * A fake server and a manager on one fake clock (auto-advancing, so back-off sleeps take no real
 * time), with the jitter pinned (random 0.5: refresh at 75 % of the lifetime) and no refresh timer.
 */
export async function setup(
  t: TestContext,
  options: { server?: FakeServerOptions; manager?: Partial<TokenManagerOptions>; clock?: FakeClock; serverClockOffsetMs?: number } = {},
): Promise<Setup> {
  const clock = options.clock ?? new FakeClock({ auto: true });
  const offset = options.serverClockOffsetMs ?? 0;
  const server = await FakeServer.start({ now: () => clock.now() + offset, ...options.server });
  const managers: TokenManager[] = [];
  const build = (overrides: Partial<TokenManagerOptions> = {}): TokenManager => {
    const manager = new TokenManager({
      baseUrl: server.baseUrl,
      username: USERNAME,
      password: PASSWORD,
      clock,
      random: () => 0.5,
      scheduleRefresh: false,
      requestTimeoutMs: 2_000,
      ...options.manager,
      ...overrides,
    });
    managers.push(manager);
    return manager;
  };
  const manager = build();
  const events: Setup['events'] = [];
  for (const type of EVENT_NAMES) manager.on(type, (event) => events.push({ type, event }));
  t.after(async () => {
    await Promise.all(managers.map((m) => m.close()));
    await server.close();
  });
  return { clock, server, manager, events, another: build };
}

/** Waits until `condition` holds, turning the event loop (never the fake clock). */
export async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}
