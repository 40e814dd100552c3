import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { addAdministrator } from '../console/administrators.js';
import { TEST_ACTOR, type Harness } from './harness.js';

/** The console's default path, as the tests configure it. */
export const CONSOLE = '/admin';
export const ADMIN = { name: 'ops-alice', password: 'a console password for tests' };
/** Every console test runs the server with the console on. */
export const CONSOLE_ENV = { ANTPEER_ADMIN_CONSOLE: 'true' } as const;

/** The value of the console cookie a response sets, or null. */
export function consoleCookie(response: LightMyRequestResponse): string | null {
  const header = response.headers['set-cookie'];
  const cookies = Array.isArray(header) ? header : header === undefined ? [] : [header];
  const found = cookies.find((cookie) => cookie.startsWith('antpeer_console='));
  return found ? (/^antpeer_console=([^;]*)/.exec(found)?.[1] ?? '') : null;
}

/** The CSRF token a console page carries in its forms. */
export function csrfOf(body: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(body)?.[1];
  assert.ok(token, 'the page carries no CSRF token');
  return token;
}

/** A browser-like client of the console through `inject()`: one cookie, a form post with the page's CSRF token. */
export interface ConsoleClient {
  cookie: string;
  get(path: string): Promise<LightMyRequestResponse>;
  /** Posts a form with the CSRF token of the last page fetched (or none with `csrf: null`). */
  post(path: string, form?: Record<string, string>, options?: { csrf?: string | null }): Promise<LightMyRequestResponse>;
}

/** Adds {@link ADMIN} through the same path as `antpeer-auth admins add`. */
export async function addTestAdministrator(h: Harness, name = ADMIN.name, password = ADMIN.password): Promise<void> {
  await addAdministrator(h.server.auth, TEST_ACTOR, name, password);
}

/** Posts the sign-in form. */
export function postLogin(h: Harness, name: string, password: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return h.server.app.inject({
    method: 'POST',
    url: `${CONSOLE}/login`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams({ name, password }).toString(),
  });
}

/** Signs in as `name` and returns a client holding the session. */
export async function signedInClient(h: Harness, name = ADMIN.name, password = ADMIN.password): Promise<ConsoleClient> {
  const login = await postLogin(h, name, password);
  assert.equal(login.statusCode, 303, login.body);
  const cookie = consoleCookie(login);
  assert.ok(cookie);
  let csrf = '';
  const client: ConsoleClient = {
    cookie,
    async get(path) {
      const response = await h.server.app.inject({ method: 'GET', url: `${CONSOLE}${path}`, headers: { cookie: `antpeer_console=${client.cookie}` } });
      const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1];
      if (token) csrf = token;
      return response;
    },
    async post(path, form = {}, options = {}) {
      if (csrf === '') await client.get('/');
      const token = options.csrf === undefined ? csrf : options.csrf;
      const fields = new URLSearchParams(form);
      if (token !== null) fields.set('_csrf', token);
      return h.server.app.inject({
        method: 'POST',
        url: `${CONSOLE}${path}`,
        headers: { cookie: `antpeer_console=${client.cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
        payload: fields.toString(),
      });
    },
  };
  return client;
}
