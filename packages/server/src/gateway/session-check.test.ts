// The gateway's session check answers from memory while the database has not changed (see
// SqliteSessionStore.getContext): every way a session can stop passing must still be seen by the
// next request that arrives, whether it happened through this server or through another connection.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { setEnabled } from '../credentials/client-applications.js';
import { revokeSession, revokeUserSessions } from '../sessions/admin.js';
import { pushNotBefore } from '../sessions/not-before.js';
import { SQLITE_FILENAME } from '../store/open.js';
import type { User } from '../store/port.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { CLIENT, TEST_ACTOR, startHarness, type Harness, type TokenBody } from '../test/harness.js';
import { BASE_PATH } from '../test/http.js';
import { startRecordingUpstream, type RecordingUpstream } from '../test/recording-upstream.js';

describe('the gateway refuses a session that stopped passing on the very next request', () => {
  let upstream: RecordingUpstream;
  let h: Harness;
  /** A second connection to the server's SQLite file, as another process or the CLI has. */
  let other: SqliteStore;
  let login: TokenBody;
  let user: User;

  before(async () => {
    upstream = await startRecordingUpstream();
  });
  after(() => upstream.close());

  beforeEach(async () => {
    h = await startHarness({ ANTPEER_UPSTREAM: upstream.url, ANTPEER_ACCESS_TOKEN_TTL: '900', ANTPEER_SESSION_IDLE: '600' });
    other = new SqliteStore({ filename: join(h.dataDir, SQLITE_FILENAME) });
    login = await h.login();
    user = (await h.server.auth.store.users.findByUsername(CLIENT.username)) as User;
    // Passing twice: the second answer may come from memory.
    assert.equal(await status(), 200);
    assert.equal(await status(), 200);
  });
  afterEach(async () => {
    await other.close();
    await h.close();
  });

  async function status(token = login.access_token): Promise<number> {
    const response = await h.server.app.inject({ method: 'GET', url: `${BASE_PATH}/orders`, headers: { authorization: `Bearer ${token}` } });
    return response.statusCode;
  }

  const deps = () => ({ store: h.server.auth.store, clock: h.clock, logger: pino({ level: 'silent' }) });
  const session = async () => (await h.server.auth.store.sessions.get(login.session_state as string))!;

  it('logout through this server', async () => {
    const response = await h.server.app.inject({ method: 'POST', url: `${BASE_PATH}/auth/logout`, payload: { refresh_token: login.refresh_token } });
    assert.equal(response.statusCode, 204);
    assert.equal(await status(), 401);
  });

  it('an operator revoking the session through this server', async () => {
    assert.equal(await revokeSession(deps(), TEST_ACTOR, await session()), true);
    assert.equal(await status(), 401);
  });

  it("an operator revoking every session of the user through this server", async () => {
    assert.equal(await revokeUserSessions(deps(), TEST_ACTOR, user), 1);
    assert.equal(await status(), 401);
  });

  it('disabling the user through this server', async () => {
    await setEnabled(deps(), TEST_ACTOR, user, false);
    assert.equal(await status(), 401);
  });

  it('a not-before policy set through this server, for the user or the realm', async () => {
    h.clock.advance(1000);
    await pushNotBefore(deps(), TEST_ACTOR, user.id);
    assert.equal(await status(), 401);
    const fresh = await h.login();
    assert.equal(await status(fresh.access_token), 200);
    h.clock.advance(1000);
    await pushNotBefore(deps(), TEST_ACTOR);
    assert.equal(await status(fresh.access_token), 401);
  });

  it("each write of this server's own connection alone, no audit event beside it", async () => {
    const store = h.server.auth.store;
    assert.equal(await store.sessions.end(login.session_state as string, 'revoked', h.clock.now()), true);
    assert.equal(await status(), 401);

    const second = await h.login();
    assert.equal(await status(second.access_token), 200);
    assert.equal(await store.users.update(user.id, { enabled: false, updatedAt: h.clock.now() }), true);
    assert.equal(await status(second.access_token), 401);
    assert.equal(await store.users.update(user.id, { enabled: true, updatedAt: h.clock.now() }), true);
    assert.equal(await status(second.access_token), 200);

    h.clock.advance(1000);
    await store.settings.setRealmNotBefore(h.clock.now());
    assert.equal(await status(second.access_token), 401);
  });

  it('the session ended by another connection (another process, the CLI)', async () => {
    assert.equal(await other.sessions.end(login.session_state as string, 'revoked', h.clock.now()), true);
    assert.equal(await status(), 401);
  });

  it('the user disabled by another connection, its sessions left as they are', async () => {
    assert.equal(await other.users.update(user.id, { enabled: false, updatedAt: h.clock.now() }), true);
    assert.equal(await status(), 401);
  });

  it('a not-before policy set by another connection, for the user or the realm', async () => {
    h.clock.advance(1000);
    await other.users.update(user.id, { notBefore: h.clock.now(), updatedAt: h.clock.now() });
    assert.equal(await status(), 401);
    h.clock.advance(1000);
    const fresh = await h.login();
    assert.equal(await status(fresh.access_token), 200);
    h.clock.advance(1000);
    await other.settings.setRealmNotBefore(h.clock.now());
    assert.equal(await status(fresh.access_token), 401);
  });

  it('the session going idle on the clock, with nothing written anywhere', async () => {
    h.clock.advance(599_000);
    assert.equal(await status(), 200);
    h.clock.advance(1000);
    assert.equal(await status(), 401);
  });

  it('a refresh through this server moves the idle expiry the next request is checked against', async () => {
    h.clock.advance(500_000);
    assert.equal((await h.refresh(login.refresh_token)).statusCode, 200);
    h.clock.advance(200_000);
    assert.equal(await status(), 200, 'the refresh kept the session alive');
  });
});
