// The OpenAPI document against the server that serves it: valid OpenAPI 3.1, every route and no
// other, and every documented operation and status driven for real through app.inject(), each
// answer's body checked against the document's schema for that route and status.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { ManualClock } from '../clock.js';
import { loadConfig } from '../config.js';
import { addClientApplication } from '../credentials/client-applications.js';
import { startServer, type RunningServer } from '../server.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/port.js';
import { disableUser } from '../test/admin.js';
import { BASE, CLIENT, TEST_ACTOR, TEST_ARGON2, type TokenBody } from '../test/harness.js';

type Json = Record<string, unknown>;
type Method = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options' | 'trace';
const METHODS: Method[] = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'];
/** What OpenAPI 3.1 cannot describe (WebDAV and the like), which Fastify's catch-all routes also take. */
const UNDESCRIBABLE = new Set(['SEARCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'REPORT', 'MKCALENDAR', 'CONNECT', 'QUERY']);
const APPLICATION = `${BASE}/{applicationPath}`;
const VERIFY = `${BASE}/auth/verify`;
const VERIFY_BELOW = `${BASE}/auth/verify/{originalPath}`;
/** Served on a port of its own by the operations work; not part of this document. */
const UNDOCUMENTED = new Set(['/metrics']);

/** Makes every store method fail (the fault a test injects), until the returned function undoes it. */
/** Makes every method of the store and of each of its parts fail with `error()`; returns the undo. */
function failStore(store: Store, error: () => Error): () => void {
  const targets: object[] = [store, store.users, store.sessions, store.keys, store.settings, store.counters, store.audit];
  const undos = targets.map((target) => {
    const prototype = Object.getPrototypeOf(target) as Json;
    const names = Object.getOwnPropertyNames(prototype).filter(
      (name) => name !== 'constructor' && name !== 'close' && name !== 'isUnavailableError' && typeof prototype[name] === 'function',
    );
    const patched = target as unknown as Json;
    for (const name of names) patched[name] = async () => Promise.reject(error());
    return () => names.forEach((name) => delete patched[name]);
  });
  return () => undos.forEach((undo) => undo());
}
const busy = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
const broken = () => new Error('disk on fire at /secret/path');

interface Instance {
  server: RunningServer;
  store: Store;
  dataDir: string;
}

async function start(clock: ManualClock, env: Record<string, string> = {}): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), 'antpeer-openapi-'));
  const config = loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: '0', ANTPEER_TRUST_PROXY: '1', ANTPEER_SOURCE_FAILURE_LIMIT: '5', ...env });
  const store = await openStore(config);
  const server = await startServer(config, { clock, store, logger: pino({ level: 'silent' }), argon2: TEST_ARGON2, listen: false });
  await addClientApplication(server.auth, TEST_ACTOR, CLIENT.username, CLIENT.password);
  return { server, store, dataDir };
}

describe('the OpenAPI document (GET /openapi.json)', () => {
  const clock = new ManualClock();
  let main: Instance;
  let document: Json;
  let paths: Record<string, Record<string, Json>>;
  const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
  /** `METHOD path status` of every answer checked against the document. */
  const seen = new Set<string>();
  let source = 0;

  before(async () => {
    main = await start(clock);
    const served = await main.server.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(served.statusCode, 200);
    document = served.json<Json>();
    paths = document.paths as typeof paths;
    ajv.addSchema({ ...document, $id: 'openapi.json' });
    seen.add(`get /openapi.json 200`);
  });
  after(async () => {
    await main.server.close();
    rmSync(main.dataDir, { recursive: true, force: true });
  });

  /** The response object for a status, following a `$ref`, and the JSON pointer of its schema. */
  function documented(path: string, method: Method, status: number): { spec: Json; pointer: string; key: string } {
    const operation = paths[path]?.[method] as Json | undefined;
    assert.ok(operation, `${method.toUpperCase()} ${path} is not in the document`);
    const responses = operation.responses as Record<string, Json>;
    const key = String(status) in responses ? String(status) : 'default';
    let spec = responses[key];
    assert.ok(spec, `${method.toUpperCase()} ${path} answered ${status}, which the document does not list`);
    let pointer = `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}/responses/${key}`;
    if (typeof spec.$ref === 'string') {
      pointer = spec.$ref;
      spec = (document.components as Record<string, Record<string, Json>>).responses?.[spec.$ref.split('/').at(-1) as string] as Json;
    }
    return { spec, pointer, key };
  }

  /** Checks one real answer against the document and records it as covered. */
  function check(path: string, method: Method, response: LightMyRequestResponse): void {
    const where = `${method.toUpperCase()} ${path} → ${response.statusCode}`;
    const { spec, pointer, key } = documented(path, method, response.statusCode);
    const content = (spec.content as Record<string, Json> | undefined)?.['application/json'];
    if (content && method !== 'head') {
      assert.match(String(response.headers['content-type']), /^application\/json/, where);
      const validateBody = ajv.compile({ $ref: `openapi.json${pointer}/content/application~1json/schema` });
      const body: unknown = JSON.parse(response.body);
      assert.ok(validateBody(body), `${where}: ${JSON.stringify(validateBody.errors)}\n${response.body}`);
    } else if (!content && key !== 'default') {
      assert.equal(response.body, '', `${where} has no documented body`);
    }
    for (const [name, header] of Object.entries((spec.headers ?? {}) as Record<string, { schema: Json }>)) {
      const value = response.headers[name.toLowerCase()];
      assert.equal(typeof value, 'string', `${where}: header ${name}`);
      const validateHeader = ajv.compile(header.schema.type === 'integer' ? { ...header.schema, type: 'string', pattern: '^[0-9]+$' } : header.schema);
      assert.ok(validateHeader(value), `${where}: header ${name}: ${String(value)}`);
    }
    seen.add(`${method} ${path} ${response.statusCode}`);
  }

  const inject = (method: Method, url: string, options: { headers?: Record<string, string>; payload?: string; source?: string } = {}) =>
    main.server.app.inject({
      method: method.toUpperCase() as 'GET',
      url,
      headers: { 'x-forwarded-for': options.source ?? `198.51.100.${(source = (source % 250) + 1)}`, ...options.headers },
      ...(options.payload === undefined ? {} : { payload: options.payload }),
    });
  const post = (path: string, body: unknown, options: { form?: boolean; headers?: Record<string, string>; source?: string } = {}) =>
    inject('post', `${BASE}${path}`, {
      ...options,
      headers: { 'content-type': options.form ? 'application/x-www-form-urlencoded' : 'application/json', ...options.headers },
      payload: typeof body === 'string' ? body : options.form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body),
    });
  const token = `${BASE}/auth/token`;
  const login = async (): Promise<TokenBody> => {
    const response = await post('/auth/token', CLIENT);
    check(token, 'post', response);
    return response.json<TokenBody>();
  };
  const withFault = async (fault: () => Error, run: () => Promise<void>) => {
    const undo = failStore(main.store, fault);
    try {
      await run();
    } finally {
      undo();
    }
  };

  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(document.openapi, '3.1.0');
    await validate(structuredClone(document) as Parameters<typeof validate>[0]);
  });

  it('documents every route the server answers, and only those', () => {
    const documentedRoutes = new Set<string>();
    for (const [path, item] of Object.entries(paths)) {
      const route = path === APPLICATION ? `${BASE}/*` : path === VERIFY_BELOW ? `${VERIFY}/*` : path;
      for (const method of Object.keys(item)) {
        documentedRoutes.add(`${method.toUpperCase()} ${route}`);
        assert.ok(main.server.app.hasRoute({ method: method.toUpperCase() as 'GET', url: route }), `${method} ${path} is documented but not served`);
      }
    }
    // printRoutes draws a tree: a child line extends the path of the line above it at a lower
    // depth; find-my-way draws the gateway's `{base}/*` as a bare top-level `*`.
    const served = main.server.app.printRoutes({ commonPrefix: false, includeHooks: false });
    const parents: string[] = [];
    for (const line of served.split('\n')) {
      const match = /^([│ ]*)[└├]── (\S+) \(([A-Z, ]+)\)/.exec(line);
      if (!match) continue;
      const depth = (match[1] as string).length / 4;
      const segment = match[2] as string;
      const route = depth === 0 ? (segment === '*' ? `${BASE}/*` : segment) : `${parents[depth - 1]}/${segment}`;
      parents[depth] = route;
      if (UNDOCUMENTED.has(route)) continue;
      for (const method of (match[3] as string).split(', ')) {
        if (UNDESCRIBABLE.has(method)) continue;
        // Fastify answers HEAD wherever it answers GET; the document says so once.
        const as = method === 'HEAD' && !documentedRoutes.has(`HEAD ${route}`) ? 'GET' : method;
        assert.ok(documentedRoutes.has(`${as} ${route}`), `${method} ${route} is served but not documented`);
      }
    }
    assert.ok(parents.length > 0, 'printRoutes was read');
  });

  it('token: both encodings and every error row of DESIGN §1', async () => {
    await login();
    check(token, 'post', await post('/auth/token', { grant_type: 'password', ...CLIENT }, { form: true }));
    const rows: Array<[unknown, string, { form?: boolean; headers?: Record<string, string> }?]> = [
      ['{"username": ', 'Request body is not valid JSON'],
      ['[]', 'Request body must be a JSON object'],
      [JSON.stringify(CLIENT), 'Content-Type must be application/json or application/x-www-form-urlencoded', { headers: { 'content-type': 'text/plain' } }],
      ['username=a&password=b&password=c', 'Duplicated parameter: password', { form: true }],
      [{ password: 'x' }, 'Missing parameter: username'],
      [{ grant_type: 'client_credentials' }, 'Unsupported grant_type: client_credentials'],
      [{ grant_type: 'refresh_token' }, 'No refresh token'],
      [{ grant_type: 'refresh_token', refresh_token: 'A'.repeat(43) }, 'Invalid refresh token'],
    ];
    for (const [body, description, options] of rows) {
      const response = await post('/auth/token', body, options);
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json<{ error_description: string }>().error_description, description);
      check(token, 'post', response);
    }
    await addClientApplication(main.server.auth, TEST_ACTOR, 'disabled-app', 'disabled app password');
    const disabled = { server: main.server } as unknown as Parameters<typeof disableUser>[0];
    await disableUser(disabled, 'disabled-app');
    const refused = await post('/auth/token', { username: 'disabled-app', password: 'disabled app password' });
    assert.equal(refused.json<{ error_description: string }>().error_description, 'Account disabled');
    check(token, 'post', refused);

    const refresh = (refreshToken: string) => post('/auth/token', { grant_type: 'refresh_token', refresh_token: refreshToken });
    const expired = await login();
    clock.advance(1800 * 1000);
    check(token, 'post', await refresh(expired.refresh_token));
    const ended = await login();
    check(`${BASE}/auth/logout`, 'post', await post('/auth/logout', { refresh_token: ended.refresh_token }));
    check(token, 'post', await refresh(ended.refresh_token));
    const stale = await login();
    clock.advance(1000);
    await main.store.settings.setRealmNotBefore(clock.now());
    clock.advance(1000);
    check(token, 'post', await refresh(stale.refresh_token));
    await main.store.settings.setRealmNotBefore(0);
    const reused = await login();
    check(token, 'post', await refresh(reused.refresh_token));
    clock.advance(11_000);
    const reuse = await refresh(reused.refresh_token);
    assert.equal(reuse.json<{ error_description: string }>().error_description, 'Refresh token reuse detected');
    check(token, 'post', reuse);

    check(token, 'post', await post('/auth/token', { ...CLIENT, password: 'wrong' }));
    check(token, 'post', await post('/auth/token', { ...CLIENT, password: 'x'.repeat(17 * 1024) }));
  });

  it('429 when one source fails too often (token and introspection)', async () => {
    const flood = '203.0.113.77';
    let last: LightMyRequestResponse | undefined;
    for (let i = 0; i < 6; i++) last = await post('/auth/token', { username: 'nobody', password: 'wrong' }, { source: flood });
    assert.equal(last?.statusCode, 429);
    check(token, 'post', last as LightMyRequestResponse);
    const basic = `Basic ${Buffer.from('nobody:wrong').toString('base64')}`;
    check(`${BASE}/auth/introspect`, 'post', await post('/auth/introspect', { token: 'x' }, { form: true, source: flood, headers: { authorization: basic } }));
  });

  it('logout, revoke, introspect, certs and metadata', async () => {
    const logout = `${BASE}/auth/logout`;
    check(logout, 'post', await post('/auth/logout', {}));
    check(logout, 'post', await post('/auth/logout', { refresh_token: 'A'.repeat(43) }));
    check(logout, 'post', await post('/auth/logout', { refresh_token: 'x'.repeat(17 * 1024) }));

    const revoke = `${BASE}/auth/revoke`;
    check(revoke, 'post', await post('/auth/revoke', { token: (await login()).refresh_token }, { form: true }));
    check(revoke, 'post', await post('/auth/revoke', {}, { form: true }));
    check(revoke, 'post', await post('/auth/revoke', { token: 'x'.repeat(17 * 1024) }));

    const introspect = `${BASE}/auth/introspect`;
    const basic = { authorization: `Basic ${Buffer.from(`${CLIENT.username}:${CLIENT.password}`).toString('base64')}` };
    const tokens = await login();
    check(introspect, 'post', await post('/auth/introspect', { token: tokens.access_token }, { form: true, headers: basic }));
    check(introspect, 'post', await post('/auth/introspect', { token: tokens.refresh_token }, { form: true, headers: { authorization: `Bearer ${tokens.access_token}` } }));
    check(introspect, 'post', await post('/auth/introspect', { token: 'garbage' }, { form: true, headers: basic }));
    check(introspect, 'post', await post('/auth/introspect', {}, { form: true, headers: basic }));
    check(introspect, 'post', await post('/auth/introspect', { token: 'x' }, { form: true }));
    check(introspect, 'post', await post('/auth/introspect', { token: 'x'.repeat(17 * 1024) }, { form: true, headers: basic }));

    check(`${BASE}/auth/certs`, 'get', await inject('get', `${BASE}/auth/certs`));
    for (const path of Object.keys(paths).filter((p) => p.includes('.well-known'))) check(path, 'get', await inject('get', path));
    check('/healthz', 'get', await inject('get', '/healthz'));
    check('/readyz', 'get', await inject('get', '/readyz'));
  });

  it('forward authentication and application endpoints, every method', async () => {
    const { access_token: accessToken } = await login();
    const bearer = { authorization: `Bearer ${accessToken}` };
    for (const method of METHODS) {
      for (const [path, url] of [[VERIFY, VERIFY], [VERIFY_BELOW, `${VERIFY}/bankit-api/antPeer/v1/payments`]] as const) {
        check(path, method, await inject(method, url, { headers: bearer }));
        check(path, method, await inject(method, url));
        check(path, method, await inject(method, url, { headers: { ...bearer, 'x-original-uri': 'not a uri' } }));
      }
      check(APPLICATION, method, await inject(method, `${BASE}/payments/7`));
      check(APPLICATION, method, await inject(method, `${BASE}/payments/7`, { headers: { authorization: 'Bearer a b' } }));
      check(APPLICATION, method, await inject(method, `${BASE}/payments/7`, { headers: bearer }));
    }
  });

  it('500 and 503 wherever the store is read, with nothing internal in the body', async () => {
    const tokens = await login();
    const basic = { authorization: `Basic ${Buffer.from(`${CLIENT.username}:${CLIENT.password}`).toString('base64')}` };
    for (const [fault, status] of [[broken, 500], [busy, 503]] as const) {
      await withFault(fault, async () => {
        const answers: Array<[string, Method, LightMyRequestResponse]> = [
          [token, 'post', await post('/auth/token', CLIENT)],
          [`${BASE}/auth/logout`, 'post', await post('/auth/logout', { refresh_token: tokens.refresh_token })],
          [`${BASE}/auth/revoke`, 'post', await post('/auth/revoke', { token: tokens.refresh_token })],
          [`${BASE}/auth/introspect`, 'post', await post('/auth/introspect', { token: tokens.refresh_token }, { form: true, headers: basic })],
          ...Object.keys(paths)
            .filter((path) => path.includes('.well-known'))
            .map((path) => [path, 'get', null] as unknown as [string, Method, LightMyRequestResponse]),
        ];
        for (const entry of answers) if (entry[2] === null) entry[2] = await inject('get', entry[0]);
        for (const method of METHODS) {
          answers.push([VERIFY, method, await inject(method, VERIFY, { headers: { authorization: `Bearer ${tokens.access_token}` } })]);
          answers.push([VERIFY_BELOW, method, await inject(method, `${VERIFY}/x`, { headers: { authorization: `Bearer ${tokens.access_token}` } })]);
        }
        for (const [path, method, response] of answers) {
          assert.equal(response.statusCode, status, `${method} ${path}: ${response.body}`);
          assert.doesNotMatch(response.body, /disk|secret|locked/);
          check(path, method, response);
        }
        if (status === 503) check('/readyz', 'get', await inject('get', '/readyz'));
      });
    }
  });

  it('502 and 504 from the gateway when the upstream fails', async () => {
    // An upstream that takes connections and never answers (/slow) or drops them at once.
    const upstream: Server = createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        if (!chunk.toString('latin1').includes(' /up/slow')) socket.destroy();
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    const gateway = await start(clock, { ANTPEER_UPSTREAM: `http://127.0.0.1:${port}/up`, ANTPEER_UPSTREAM_TIMEOUT: '1' });
    try {
      const login = await gateway.server.app.inject({ method: 'POST', url: token, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(CLIENT) });
      const bearer = { authorization: `Bearer ${login.json<TokenBody>().access_token}` };
      const call = (method: Method, path: string) => gateway.server.app.inject({ method: method.toUpperCase() as 'GET', url: `${BASE}${path}`, headers: bearer });
      const answers = await Promise.all(METHODS.flatMap((method) => [call(method, '/broken'), call(method, '/slow')]));
      METHODS.forEach((method, index) => {
        assert.equal(answers[2 * index]?.statusCode, 502);
        assert.equal(answers[2 * index + 1]?.statusCode, 504);
        check(APPLICATION, method, answers[2 * index] as LightMyRequestResponse);
        check(APPLICATION, method, answers[2 * index + 1] as LightMyRequestResponse);
      });
    } finally {
      await gateway.server.close();
      rmSync(gateway.dataDir, { recursive: true, force: true });
      upstream.close();
    }
  });

  it('every operation and status it lists was answered for real (runs last)', () => {
    const missing: string[] = [];
    for (const [path, item] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const status of Object.keys(operation.responses as Json)) {
          if (status !== 'default' && !seen.has(`${method} ${path} ${status}`)) missing.push(`${method.toUpperCase()} ${path} ${status}`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });
});
