import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BASE_PATH } from '../test/http.js';
import { CLIENT, TOKEN_PATH, startHarness, type Harness } from '../test/harness.js';

interface Case {
  name: string;
  payload: string | Buffer;
  contentType?: string;
  status: number;
  error: string;
}

const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const cases: Case[] = [
  { name: 'empty JSON body', payload: '', status: 400, error: 'invalid_request' },
  { name: 'whitespace body', payload: '   \n', status: 400, error: 'invalid_request' },
  { name: 'truncated JSON', payload: '{"username":"a","password":', status: 400, error: 'invalid_request' },
  { name: 'JSON with a trailing comma', payload: '{"username":"a",}', status: 400, error: 'invalid_request' },
  { name: 'deeply nested arrays', payload: deep(5000), status: 400, error: 'invalid_request' },
  { name: 'nested object as username', payload: '{"username":{"$ne":null},"password":"x"}', status: 400, error: 'invalid_request' },
  { name: 'array as password', payload: '{"username":"a","password":["x"]}', status: 400, error: 'invalid_request' },
  { name: 'number as refresh token', payload: '{"grant_type":"refresh_token","refresh_token":1e308}', status: 400, error: 'invalid_request' },
  { name: '__proto__ carrying the credentials', payload: `{"__proto__":${JSON.stringify(CLIENT)}}`, status: 400, error: 'invalid_request' },
  { name: 'constructor.prototype key', payload: '{"constructor":{"prototype":{"username":"a"}},"password":"x"}', status: 400, error: 'invalid_request' },
  { name: '__proto__ as username value holder', payload: '{"username":"__proto__","password":"x"}', status: 401, error: 'invalid_grant' },
  { name: 'unicode username', payload: '{"username":"商户🦄\\u0000","password":"pässwörd"}', status: 401, error: 'invalid_grant' },
  { name: 'lone surrogate escape', payload: '{"username":"\\ud800","password":"x"}', status: 401, error: 'invalid_grant' },
  { name: 'invalid UTF-8 bytes', payload: Buffer.from([0x7b, 0x22, 0x75, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, error: 'invalid_request' },
  { name: 'huge username inside the limit', payload: JSON.stringify({ username: 'u'.repeat(15_000), password: 'x' }), status: 401, error: 'invalid_grant' },
  { name: 'huge refresh token inside the limit', payload: JSON.stringify({ grant_type: 'refresh_token', refresh_token: 'r'.repeat(15_000) }), status: 400, error: 'invalid_grant' },
  { name: 'grant_type null with credentials', payload: JSON.stringify({ ...CLIENT, grant_type: null }), status: 200, error: '' },
  { name: 'unknown grant as an object', payload: '{"grant_type":{"a":1}}', status: 400, error: 'invalid_request' },
  { name: 'form: empty body', payload: '', contentType: 'application/x-www-form-urlencoded', status: 400, error: 'invalid_request' },
  { name: 'form: garbage percent-encoding', payload: 'username=%E0%A4%A&password=%%%', contentType: 'application/x-www-form-urlencoded', status: 401, error: 'invalid_grant' },
  { name: 'form: repeated grant_type', payload: 'grant_type=password&grant_type=refresh_token', contentType: 'application/x-www-form-urlencoded', status: 400, error: 'invalid_request' },
  { name: 'form: __proto__ field', payload: `__proto__=x&username=${CLIENT.username}`, contentType: 'application/x-www-form-urlencoded', status: 400, error: 'invalid_request' },
  { name: 'form: JSON sent as form', payload: JSON.stringify(CLIENT), contentType: 'application/x-www-form-urlencoded', status: 400, error: 'invalid_request' },
  { name: 'JSON content type with form body', payload: 'username=a&password=b', status: 400, error: 'invalid_request' },
  { name: 'content type with odd parameters', payload: JSON.stringify(CLIENT), contentType: 'application/json; charset=latin1; x=y', status: 200, error: '' },
];

describe('malformed input never produces a 5xx', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ ANTPEER_SOURCE_FAILURE_LIMIT: '100000', ANTPEER_LOCKOUT_THRESHOLD: '100000' });
  });
  after(() => h.close());

  for (const c of cases) {
    it(`${c.name} → ${c.status}${c.error ? ` ${c.error}` : ''}`, async () => {
      const response = await h.server.app.inject({
        method: 'POST',
        url: TOKEN_PATH,
        headers: { 'content-type': c.contentType ?? 'application/json' },
        payload: c.payload,
      });
      assert.equal(response.statusCode, c.status, response.body);
      if (c.error) assert.equal(response.json<{ error: string }>().error, c.error);
    });
  }

  it('a wrong Content-Length is a 400, not a hang or a crash', async () => {
    const response = await h.server.app.inject({
      method: 'POST',
      url: TOKEN_PATH,
      headers: { 'content-type': 'application/json', 'content-length': '5' },
      payload: JSON.stringify(CLIENT),
    });
    assert.ok(response.statusCode >= 400 && response.statusCode < 500, String(response.statusCode));
  });

  it('the logout endpoint refuses the same bad input with 4xx', async () => {
    for (const payload of ['', '[]', '{"refresh_token":{"a":1}}', deep(3000)]) {
      const response = await h.server.app.inject({
        method: 'POST',
        url: `${BASE_PATH}/auth/logout`,
        headers: { 'content-type': 'application/json' },
        payload,
      });
      assert.equal(response.statusCode, 400, `${payload.slice(0, 20)} → ${response.body}`);
    }
  });

  it('bad input changes nothing: no session and no user appear', async () => {
    const before = await h.server.auth.store.sessions.listActive(h.clock.now(), { limit: 1000 });
    const users = await h.server.auth.store.users.count();
    for (const c of cases.filter((x) => x.status === 400)) {
      await h.server.app.inject({
        method: 'POST',
        url: TOKEN_PATH,
        headers: { 'content-type': c.contentType ?? 'application/json' },
        payload: c.payload,
      });
    }
    const after = await h.server.auth.store.sessions.listActive(h.clock.now(), { limit: 1000 });
    assert.equal(after.length, before.length);
    assert.equal(await h.server.auth.store.users.count(), users);
  });
});

describe('a duplicated form field named with client text', () => {
  it('is refused without repeating the name, which could be a token', async () => {
    const h = await startHarness();
    try {
      const name = 'x'.repeat(20) + 'A-token-looking-field-name_0123456789abcdef';
      const response = await h.tokenForm(`${name}=1&${name}=2&username=a&password=b`);
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { error: 'invalid_request', error_description: 'Duplicated parameter' });
    } finally {
      await h.close();
    }
  });
});
