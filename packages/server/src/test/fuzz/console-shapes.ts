/**
 * Requests to the web console as an attacker sends them: every page and action, by GET and POST
 * and other methods, with and without the fixture administrator's cookie and CSRF token (real,
 * mutated, made up, repeated), forms with markup meant to break out of HTML, huge fields and odd
 * encodings, paths with dot segments, encoded dots and double slashes, unknown actions and ids that
 * are not ids.
 */
import fc from 'fast-check';
import type { Body, Piece, Text } from './model.js';
import { anyMethodArb } from './http-shapes.js';
import { base64urlString, hugeArb, secretArb } from './token-shapes.js';

/** The console's path on the fuzzed server (the default). */
export const CONSOLE_PATH = '/admin';

/** Markup that would run or break out of an attribute if a page showed it unescaped. */
export const INJECTIONS = ['<script>alert(1)</script>', '"><svg onload=alert(1)>', "'><img src=x onerror=alert(1)>", '</textarea><b>x</b>', '<a href="javascript:alert(1)">x</a>'] as const;

const injectionArb = fc.constantFrom(...INJECTIONS);

/** A field value or a query value: markup, junk, huge, empty. */
const valueArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 3, arbitrary: injectionArb.map((text): Text => [text]) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }).map((text): Text => [text]) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((text): Text => [text]) },
  { weight: 1, arbitrary: fc.constantFrom('', '24h', '15m', '2026-11-30T12:00:00Z', '-1h', '99999999999999999999d', '+275760-09-13', '1.1', '9999999999999999.9', 'login_failed', 'enabled', '__proto__', '%', '%00').map((text): Text => [text]) },
  { weight: 1, arbitrary: hugeArb.map((piece): Text => [piece]) },
);

const idArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('not-an-id', '1', '0', '-1', '__proto__', 'constructor', '%00', '%2e%2e', '..', '%ZZ', 'a%2fb', '🦄', 'null', 'undefined', '9'.repeat(40)),
  fc.uuid(),
  base64urlString(1, 43),
  injectionArb.map((text) => encodeURIComponent(text)),
);
const actionArb = fc.constantFrom('enable', 'disable', 'require-dpop', 'allow-bearer', 'remove', 'revoke-sessions', 'not-before', 'password', 'unknown', '__proto__', 'toString', 'revoke', '', 'ENABLE');

/** A page or action of the console, from its own path. */
const pageArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('/', '', '/logout', '/applications', '/sessions', '/policy', '/policy/not-before', '/keys', '/keys/rotate', '/audit', '/audit/export', '/dashboard.json') },
  { weight: 4, arbitrary: fc.constant('/login') },
  { weight: 1, arbitrary: fc.constantFrom('/assets/console.css', '/assets/dashboard.js', '/assets/nothing', '/assets/..%2fconsole.css', '/no-such-page', '/login/', '/applications/') },
  { weight: 3, arbitrary: fc.tuple(idArb, actionArb).map(([id, action]) => `/applications/${id}/${action}`) },
  { weight: 1, arbitrary: idArb.map((id) => `/sessions/${id}/revoke`) },
);

/** The console's prefix, straight or bent. */
const prefixArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant(CONSOLE_PATH) },
  { weight: 1, arbitrary: fc.constantFrom('/admin/../admin', '/admin/%2e%2e/admin', '/admin/.', '//admin', '/admin/', '/ADMIN', '/admin%2f', '/x/../admin', '/bankit-api/antPeer/v1/../../admin', '/%61dmin', '/admin;x', '/admin/./') },
);

const queryKeyArb = fc.constantFrom('q', 'since', 'until', 'kind', 'application', 'after', 'done', 'expired', '__proto__', '_csrf');
const queryArb: fc.Arbitrary<Text> = fc
  .array(fc.tuple(queryKeyArb, valueArb), { maxLength: 4 })
  .map((pairs): Text => (pairs.length === 0 ? [] : ['?', ...pairs.flatMap(([key, value], index): Text => [index === 0 ? '' : '&', key, '=', ...value.map((piece): Piece => (typeof piece === 'string' ? encodeURIComponent(piece) : piece))])]));

const targetArb: fc.Arbitrary<Text> = fc.tuple(prefixArb, pageArb, fc.option(queryArb, { freq: 3, nil: [] })).map(([prefix, page, query]): Text => [prefix, page, ...query]);

/** The fixture's cookie as issued, mutated, or none; a made-up one; or two cookies. */
const cookieArb: fc.Arbitrary<Text | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 8, arbitrary: fc.constant<Text>(['antpeer_console=', { secret: { kind: 'consoleCookie' }, mutation: { op: 'none' } }]) },
  { weight: 2, arbitrary: secretArb(fc.constant({ kind: 'consoleCookie' } as const)).map((secret): Text => ['antpeer_console=', secret]) },
  { weight: 1, arbitrary: base64urlString(0, 60).map((value): Text => [`antpeer_console=${value}`]) },
  { weight: 1, arbitrary: fc.constant<Text>(['antpeer_console=forged; antpeer_console=', { secret: { kind: 'consoleCookie' }, mutation: { op: 'none' } }]) },
  { weight: 1, arbitrary: fc.constantFrom('antpeer_console=', 'antpeer_console', '=', ';;;', 'other=1').map((text): Text => [text]) },
  { weight: 1, arbitrary: hugeArb.map((piece): Text => ['antpeer_console=', piece]) },
);

/** The `_csrf` field: the fixture's, mutated, another, or none. */
const csrfArb: fc.Arbitrary<Text | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 8, arbitrary: fc.constant<Text>([{ secret: { kind: 'consoleCsrf' }, mutation: { op: 'none' } }]) },
  { weight: 2, arbitrary: secretArb(fc.constant({ kind: 'consoleCsrf' } as const)).map((secret): Text => [secret]) },
  { weight: 1, arbitrary: base64urlString(0, 50).map((value): Text => [value]) },
);

const fieldNameArb = fc.constantFrom('name', 'password', 'username', 'q', 'confirm', '__proto__', 'constructor', '_csrf', '');
const adminNameArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Text>(['fuzz-admin']) },
  { weight: 1, arbitrary: fc.constantFrom('FUZZ-ADMIN', 'merchant-app', 'nobody', ' fuzz-admin').map((text): Text => [text]) },
  { weight: 2, arbitrary: valueArb },
);
const adminPasswordArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Text>([{ secret: { kind: 'adminPassword' }, mutation: { op: 'none' } }]) },
  { weight: 1, arbitrary: secretArb(fc.constant({ kind: 'adminPassword' } as const)).map((secret): Text => [secret]) },
  { weight: 1, arbitrary: fc.constant<Text>([{ secret: { kind: 'password' }, mutation: { op: 'none' } }]) },
  { weight: 1, arbitrary: valueArb },
);

/** A form as the console's pages post it, with the CSRF field first or last, extra fields, repeats. */
const formArb: fc.Arbitrary<Body> = fc
  .record({
    csrf: csrfArb,
    name: fc.option(adminNameArb, { freq: 6, nil: null }),
    password: fc.option(adminPasswordArb, { freq: 6, nil: null }),
    username: fc.option(valueArb, { freq: 3, nil: null }),
    extra: fc.array(fc.tuple(fieldNameArb.map((name): Text => [name]), valueArb), { maxLength: 2 }),
    csrfLast: fc.boolean(),
    encode: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  })
  .map(({ csrf, name, password, username, extra, csrfLast, encode }): Body => {
    const fields: [Text, Text][] = [];
    if (name !== null) fields.push([['name'], name]);
    if (password !== null) fields.push([['password'], password]);
    if (username !== null) fields.push([['username'], username]);
    fields.push(...extra);
    if (csrf !== null) {
      if (csrfLast) fields.push([['_csrf'], csrf]);
      else fields.unshift([['_csrf'], csrf]);
    }
    return { kind: 'form', fields, encode };
  });

const consoleBodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 10, arbitrary: formArb },
  { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: valueArb, encoding: fc.constantFrom('utf8' as const, 'latin1' as const, 'utf16le' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
);

const contentTypeArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/x-www-form-urlencoded') },
  { weight: 1, arbitrary: fc.constantFrom('application/x-www-form-urlencoded; charset=utf-16', 'APPLICATION/X-WWW-FORM-URLENCODED', 'multipart/form-data; boundary=x', 'application/json', 'text/plain', '', 'application/x-www-form-urlencoded, text/html') },
);

/** Where a browser says the request comes from: mostly nothing (not a browser) or the console itself. */
const originHeadersArb: fc.Arbitrary<[string, Text][]> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<[string, Text][]>([]) },
  { weight: 2, arbitrary: fc.constant<[string, Text][]>([['Sec-Fetch-Site', ['same-origin']], ['Origin', ['http://localhost:80']]]) },
  { weight: 1, arbitrary: fc.constantFrom('cross-site', 'same-site', 'none', 'SAME-ORIGIN', '').map((site): [string, Text][] => [['Sec-Fetch-Site', [site]]]) },
  { weight: 1, arbitrary: fc.constantFrom('https://evil.example', 'null', 'http://localhost', 'http://localhost:80', '%', 'http://localhost:80.evil.example').map((origin): [string, Text][] => [['Origin', [origin]]]) },
);

export interface ConsoleRequestParts {
  method: string;
  target: Text;
  body: Body;
  headers: [string, Text][];
}

/** One request to the console. */
export const consoleRequestArb: fc.Arbitrary<ConsoleRequestParts> = fc
  .record({
    method: fc.oneof({ weight: 8, arbitrary: fc.constant('GET') }, { weight: 10, arbitrary: fc.constant('POST') }, { weight: 2, arbitrary: anyMethodArb }),
    target: targetArb,
    body: consoleBodyArb,
    contentType: fc.option(contentTypeArb, { freq: 12, nil: null }),
    cookie: cookieArb,
    origin: originHeadersArb,
  })
  .map(({ method, target, body, contentType, cookie, origin }) => {
    const headers: [string, Text][] = [];
    if (contentType !== null && body.kind !== 'none') headers.push(['Content-Type', [contentType]]);
    if (cookie !== null) headers.push(['Cookie', cookie]);
    headers.push(...origin);
    return { method, target, body: method === 'GET' || method === 'HEAD' ? { kind: 'none' } : body, headers };
  });
