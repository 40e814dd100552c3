/**
 * Generators for the HTTP around a request: request targets (dot segments, encoded slashes,
 * backslashes, bad percent-encoding, absolute form), headers (content types, authorization
 * schemes, identity and address spoofing, forwarded-request headers, encodings) and bodies (JSON
 * written by hand so keys can repeat, form bodies, raw text in other encodings, bytes).
 */
import fc from 'fast-check';
import { METHODS } from 'node:http';
import type { Body, JsonNode, Piece, Text } from './model.js';
import { accessTokenArb, hugeArb, jwtGarbageArb, passwordTextArb, realTokenArb, refreshTokenArb, tokenTextArb, usernameTextArb } from './token-shapes.js';

/** Every method Node's HTTP parser lets through to a route (CONNECT takes an authority, not a path). */
export const anyMethodArb = fc.constantFrom(...METHODS.filter((method) => method !== 'CONNECT'));

const visibleChar = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
const highChar = fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code));
const junkChar = fc.oneof({ weight: 4, arbitrary: visibleChar }, { weight: 1, arbitrary: highChar });

/** A random string the server must never repeat back. */
export const canaryArb: fc.Arbitrary<Piece> = fc.stringMatching(/^[A-Za-z0-9]{9,14}$/).map((value) => ({ canary: `q${value}` }));

const wordSegment = fc.constantFrom(
  'auth', 'token', 'logout', 'revoke', 'introspect', 'certs', 'verify', '.well-known', 'oauth-authorization-server',
  'healthz', 'readyz', 'openapi.json', 'metrics', 'bankit-api', 'antPeer', 'v1', 'accounts', 'payments', 'AUTH', 'Token',
);
const trickySegment = fc.constantFrom(
  '.', '..', '%2e', '%2e%2e', '.%2e', '%2E%2E', '..;', '..;x', '%2f', '%2F', 'a%2fb', '%5c', '\\', '..\\', '%00', '%0a', '%0d%0a',
  '%', '%zz', '%e0%a4%a', '%C0%AE', '%c0%ae%c0%ae', ';', ';jsessionid=1', '', '~', '*', '@', ':', '%20', '%u002e', '%252e%252e',
  '%ff', '%7f', '%3f', '%23', '#', '?', '%2e%2e%2f', '..%2f', '%09',
);

/** A path segment an application would have. */
export const plainSegmentArb: fc.Arbitrary<Piece> = fc.oneof(wordSegment, canaryArb, fc.stringMatching(/^[a-z0-9-]{1,12}$/));

/** One path segment. */
export const segmentArb: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 4, arbitrary: wordSegment },
  { weight: 4, arbitrary: trickySegment },
  { weight: 2, arbitrary: canaryArb },
  { weight: 2, arbitrary: fc.string({ unit: junkChar, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
);

const hostArb = fc.oneof(
  fc.constantFrom('localhost', '127.0.0.1', 'auth.example', 'evil.example', '[::1]', '127.0.0.1:8080', 'user@evil.example', 'a:b@c', ''),
  fc.domain(),
);

/** A query string (with its `?`), sometimes carrying a token as RFC 6750 §2.3 allows. */
export const queryArb: fc.Arbitrary<Text> = fc
  .array(
    fc.oneof(
      fc.tuple(fc.constantFrom('access_token=', 'token=', 'refresh_token='), tokenTextArb()).map(([name, value]): Text => [name, ...value]),
      fc.tuple(fc.constantFrom('a=', 'next=', 'path=', ''), canaryArb).map(([name, value]): Text => [name, value]),
      fc.string({ unit: junkChar, maxLength: 16 }).map((text): Text => [text]),
      fc.constantFrom('%zz', '%', '%00', 'a=%E0%A4%A', '#x', '??', '&&').map((text): Text => [text]),
      hugeArb.map((piece): Text => [piece]),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => ['?', ...pairs.flatMap((pair, index) => (index === 0 ? pair : ['&', ...pair]))]);

function splitAtSlash(path: string, pick: number): [string, string] {
  const slashes = [...path.matchAll(/\//g)].map((match) => match.index);
  const at = slashes[pick % slashes.length] ?? 0;
  return [path.slice(0, at), path.slice(at)];
}

/** A route's path, broken in the ways that make one server read a path differently from the next. */
function mangledArb(path: string): fc.Arbitrary<Text> {
  return fc.oneof(
    fc.tuple(fc.nat(), segmentArb).map(([pick, segment]): Text => {
      const [head, tail] = splitAtSlash(path, pick);
      return [head, '/', segment, tail];
    }),
    fc.nat().map((pick): Text => {
      const at = pick % path.length;
      return [path.slice(0, at), `%${path.charCodeAt(at).toString(16).padStart(2, '0')}`, path.slice(at + 1)];
    }),
    fc.nat().map((pick): Text => {
      const at = pick % path.length;
      const char = path.charAt(at);
      const swapped = char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase();
      return [path.slice(0, at) + swapped + path.slice(at + 1)];
    }),
    fc.tuple(fc.nat(), fc.constantFrom('//', '\\', '/./', '/../', '/%2e/', '/%2e%2e/', '/;/', '%2f', '/%2F', '\\\\')).map(([pick, slash]): Text => {
      const [head, tail] = splitAtSlash(path, pick);
      return [head, slash, tail.slice(1)];
    }),
    fc.constantFrom('/', ';', ';x', '%00', '%', '.', '..', '/.', '/..', '%20', '#frag', '?', '&', '/%2e%2e/%2e%2e/etc/passwd').map((suffix): Text => [path + suffix]),
    fc.tuple(fc.constantFrom('http://', 'https://', 'HTTP://', 'ftp://', '//'), hostArb).map(([scheme, host]): Text => [scheme + host + path]),
    fc.array(segmentArb, { minLength: 1, maxLength: 4 }).map((segments): Text => [path, ...segments.flatMap((segment) => ['/', segment])]),
  );
}

/** A request target for `path`: as is, with a query, or mangled. */
export function targetArb(path: string): fc.Arbitrary<Text> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.constant([path]) },
    { weight: 2, arbitrary: queryArb.map((query): Text => [path, ...query]) },
    { weight: 4, arbitrary: mangledArb(path) },
    { weight: 1, arbitrary: fc.tuple(mangledArb(path), queryArb).map(([target, query]): Text => [...target, ...query]) },
  );
}

/** Anything on the request line: under the base, beside it, or nowhere near it. */
export function anyTargetArb(basePath: string): fc.Arbitrary<Text> {
  return fc.oneof(
    fc.array(segmentArb, { maxLength: 6 }).map((segments): Text => [basePath, ...segments.flatMap((segment) => ['/', segment])]),
    fc.array(segmentArb, { maxLength: 6 }).map((segments): Text => segments.flatMap((segment) => ['/', segment])),
    fc.constantFrom('*', '/', '//', '', 'http://evil.example/', 'http://evil.example' + basePath, '/metrics', '/..', '/%2e%2e/').map((target): Text => [target]),
    fc.string({ unit: junkChar, maxLength: 40 }).map((text): Text => ['/', text]),
  );
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-16', 'application/json; charset=latin1; x=y', 'application/json ;', 'application/jsonx', 'application/json-patch+json'];
const FORM_TYPES = ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'Application/X-WWW-Form-Urlencoded', 'application/x-www-form-urlencoded;charset=ISO-8859-1'];
const OTHER_TYPES = ['text/plain', 'text/html', 'multipart/form-data; boundary=x', 'application/xml', 'application/json, application/x-www-form-urlencoded', '*/*', '', ';', 'application/', 'application/octet-stream'];

/** Which Content-Type a request sends, chosen before the body is known (see {@link contentTypeFor}). */
export type ContentTypeChoice = { usual: number } | { matching: number } | { any: string } | null;

export const contentTypeChoiceArb: fc.Arbitrary<ContentTypeChoice> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ usual: fc.nat(1) }) },
  { weight: 4, arbitrary: fc.record({ matching: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ any: fc.constantFrom(...JSON_TYPES, ...FORM_TYPES, ...OTHER_TYPES) }) },
  { weight: 1, arbitrary: fc.record({ any: fc.string({ unit: junkChar, maxLength: 40 }) }) },
  { weight: 1, arbitrary: fc.constant(null) },
);

/** The Content-Type a choice means for a body: usually one that matches it, sometimes one that does not. */
export function contentTypeFor(body: Body, choice: ContentTypeChoice): string | null {
  if (choice === null) return null;
  if ('any' in choice) return choice.any;
  const matching = body.kind === 'json' ? JSON_TYPES : body.kind === 'form' ? FORM_TYPES : [JSON_TYPES[0] as string, FORM_TYPES[0] as string];
  const index = 'usual' in choice ? choice.usual : choice.matching;
  return matching[index % matching.length] as string;
}

/** `username:password` for HTTP Basic, real or not. */
const basicCredentialsArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(usernameTextArb, passwordTextArb).map(([user, password]): Text => [{ base64: [...user, ':', ...password] }]) },
  { weight: 1, arbitrary: fc.constantFrom('', 'Og==', '===', 'bWVyY2hhbnQtYXBw', '%%%', 'YTpi', 'é').map((text): Text => [text]) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map((text): Text => [{ base64: [text] }]) },
);

/** An Authorization header value: Bearer with every token shape, Basic, other schemes, junk. */
export function authorizationArb(bearer: fc.Arbitrary<Text> = tokenTextArb()): fc.Arbitrary<Text> {
  return fc.oneof(
    { weight: 10, arbitrary: bearer.map((token): Text => ['Bearer ', ...token]) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.constantFrom('bearer ', 'BEARER ', 'Bearer  ', 'Bearer\t', 'Bearer', 'Bearer: ', 'Token ', 'JWT ', 'Bearer '), bearer, fc.constantFrom('', ' ', ',', ', Bearer x', ' x'))
        .map(([scheme, token, tail]): Text => [scheme, ...token, tail]),
    },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom('Basic ', 'Basic ', 'Basic ', 'basic ', 'BASIC ', 'Basic  '), basicCredentialsArb).map(([scheme, credentials]): Text => [scheme, ...credentials]) },
    { weight: 1, arbitrary: fc.constantFrom('Digest username="x"', 'Negotiate YII=', 'Basic', 'Bearer', '', 'null', 'DPoP x').map((text): Text => [text]) },
    { weight: 1, arbitrary: jwtGarbageArb.map((text): Text => [text]) },
  );
}

/** Headers a client could use to pass itself off as someone, somewhere or some path. */
const SPOOFED = [
  'X-Auth-Username', 'x-auth-subject', 'X-AUTH-SESSION', 'X-Auth-Token-Id', 'X_Auth_Username', 'x_auth_subject', 'X-Auth_Session',
  'X-Auth-Role', 'X-Forwarded-User', 'X-Original-URL', 'X-Rewrite-URL', 'X-Real-IP', 'Forwarded', 'True-Client-IP', 'X-Client-IP',
  'CF-Connecting-IP', 'X-Forwarded-Host', 'X-Forwarded-Proto', 'X-Forwarded-Prefix', 'X-HTTP-Method-Override',
];

const addressListArb: fc.Arbitrary<Text> = fc.oneof(
  fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('unknown', '127.0.0.1', '::1', '10.0.0.1:443', '[::1]:80', '', ' ', 'for=1.2.3.4')), { minLength: 1, maxLength: 4 }).map((list): Text => [list.join(', ')]),
  fc.string({ unit: junkChar, maxLength: 40 }).map((text): Text => [text]),
  hugeArb.map((piece): Text => [piece]),
);

const FORWARDED_METHOD = fc.oneof(anyMethodArb, fc.constantFrom('get', 'G E T', '', 'X'.repeat(40), 'GET\t'));
const FORWARDED_URI: fc.Arbitrary<Text> = fc.oneof(
  fc.tuple(fc.constantFrom('/', '/bankit-api/antPeer/v1/accounts', 'http://evil.example/x', '*', 'relative', ''), fc.option(queryArb, { nil: [] })).map(([uri, query]): Text => [uri, ...query]),
  fc.array(segmentArb, { maxLength: 4 }).map((segments): Text => segments.flatMap((segment) => ['/', segment])),
  hugeArb.map((piece): Text => ['/', piece]),
);

/** Extra headers: spoofing, addresses, forwarded-request headers, encodings, a second Authorization, Host or Content-Type. */
export const extraHeadersArb: fc.Arbitrary<[string, Text][]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...SPOOFED), canaryArb).map(([name, value]): [string, Text] => [name, [value]]) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom('X-Forwarded-For', 'x-forwarded-for', 'X-Real-IP'), addressListArb) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('X-Original-Method', 'X-Forwarded-Method'), FORWARDED_METHOD).map(([name, value]): [string, Text] => [name, [value]]) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('X-Original-URI', 'X-Forwarded-Uri', 'x-original-uri'), FORWARDED_URI) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Content-Encoding', 'Accept-Encoding'), fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'gzip, gzip', 'x-unknown', '')).map(([name, value]): [string, Text] => [name, [value]]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Host', 'host'), hostArb).map(([name, value]): [string, Text] => [name, [value]]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Authorization', 'authorization'), authorizationArb()) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Content-Type', 'content-type'), fc.constantFrom(...JSON_TYPES, ...FORM_TYPES, ...OTHER_TYPES)).map(([name, value]): [string, Text] => [name, [value]]) },
    {
      weight: 3,
      arbitrary: fc.tuple(
        fc.constantFrom('User-Agent', 'Cookie', 'Accept', 'Origin', 'Referer', 'X-Request-Id'),
        fc.oneof(canaryArb.map((piece): Text => [piece]), fc.string({ unit: junkChar, maxLength: 30 }).map((text): Text => [text])),
      ),
    },
  ),
  { maxLength: 3 },
);

/** A JSON field whose value, as a string, comes from `text`; sometimes another JSON type instead. */
function fieldValueArb(text: fc.Arbitrary<Text>): fc.Arbitrary<JsonNode> {
  const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 8 }));
  return fc.oneof(
    { weight: 30, arbitrary: text.map((v): JsonNode => ({ t: 'text', v })) },
    { weight: 1, arbitrary: scalar.map((v): JsonNode => ({ t: 'lit', v })) },
    { weight: 1, arbitrary: text.map((v): JsonNode => ({ t: 'arr', v: [{ t: 'text', v }] })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('$ne', '$gt', 'value', ''), text).map(([key, v]): JsonNode => ({ t: 'obj', v: [[[key], { t: 'text', v }]] })) },
  );
}

/** A grant_type: `usual` mostly, the other grant, unsupported ones, a token by mistake. */
function grantTypeArb(usual: 'password' | 'refresh_token'): fc.Arbitrary<Text> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant([usual]) },
    { weight: 1, arbitrary: fc.constantFrom('password', 'refresh_token').map((value): Text => [value]) },
    { weight: 2, arbitrary: fc.constantFrom('PASSWORD', 'client_credentials', 'authorization_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', ' password', 'refresh_token ', 'password\u0000', '').map((value): Text => [value]) },
    { weight: 1, arbitrary: tokenTextArb() },
  );
}

/** The value generators of the fields the auth endpoints read. */
export const FIELD_VALUES: Readonly<Record<string, fc.Arbitrary<Text>>> = {
  username: usernameTextArb,
  password: passwordTextArb,
  grant_type: grantTypeArb('password'),
  refresh_token: tokenTextArb(refreshTokenArb),
  token: tokenTextArb(fc.oneof(refreshTokenArb, accessTokenArb)),
  token_type_hint: fc.oneof(fc.constantFrom('access_token', 'refresh_token', '', 'id_token').map((value): Text => [value]), tokenTextArb()),
  client_id: fc.constantFrom('merchant-app', 'some-client', '').map((value): Text => [value]),
  client_secret: passwordTextArb,
  scope: fc.constantFrom('', 'openid', 'admin').map((value): Text => [value]),
};

const refreshGrantTypeArb = grantTypeArb('refresh_token');

const oddKeyArb: fc.Arbitrary<Text> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'Username', 'user_name', 'username ', 'grant-type', 'refreshToken', '', 'toString', 'hasOwnProperty').map((key): Text => [key]),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((key): Text => [key]),
);

const anyTextArb: fc.Arbitrary<Text> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((text): Text => [text]),
  fc.string({ unit: 'binary', maxLength: 10 }).map((text): Text => [text]),
  realTokenArb.map((secret): Text => [secret]),
);

/**
 * The fields of an auth request as `[name, value]` entries, values wrapped by `wrap` (as JSON
 * nodes, or as text for a form): each field of `names` (maybe absent), now and then odd extra
 * fields, and now and then a field given twice. Built without `chain`, so a failure shrinks to
 * the fewest fields.
 */
function entriesArb<V>(names: readonly string[], wrap: (text: fc.Arbitrary<Text>) => fc.Arbitrary<V>): fc.Arbitrary<[Text, V][]> {
  // A body with a refresh token and no username asks for the refresh grant.
  const valueArb = (name: string) => wrap((name === 'grant_type' && !names.includes('username') ? refreshGrantTypeArb : FIELD_VALUES[name]) ?? anyTextArb);
  const fieldArb = (name: string) => valueArb(name).map((value): [Text, V] => [[name], value]);
  return fc
    .tuple(
      fc.tuple(...names.map((name) => fc.option(fieldArb(name), { freq: 8 }))),
      fc.oneof({ weight: 6, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(oddKeyArb, wrap(anyTextArb)), { minLength: 1, maxLength: 2 }) }),
      fc.oneof({ weight: 10, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(fc.oneof(...names.map(fieldArb)), { minLength: 1, maxLength: 2 }) }),
    )
    .map(([present, extra, repeated]) => [...present.filter((entry): entry is [Text, V] => entry !== null), ...extra, ...repeated]);
}

/** Which fields a request carries: one of the route's usual sets. */
export type FieldSets = readonly (readonly string[])[];

/** A JSON object of one of `sets` (the route's fields), written by hand; sometimes not an object at all. */
export function jsonBodyArb(sets: FieldSets): fc.Arbitrary<Body> {
  const objectArb = fc.oneof(...sets.map((names) => entriesArb(names, fieldValueArb))).map((entries): JsonNode => ({ t: 'obj', v: entries }));
  const rootArb: fc.Arbitrary<JsonNode> = fc.oneof(
    { weight: 12, arbitrary: objectArb },
    { weight: 1, arbitrary: objectArb.map((node): JsonNode => ({ t: 'arr', v: [node] })) },
    { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string({ maxLength: 10 })).map((v): JsonNode => ({ t: 'lit', v })) },
    { weight: 1, arbitrary: objectArb.map((node): JsonNode => ({ t: 'obj', v: [[['data'], node]] })) },
  );
  return fc.record({
    kind: fc.constant('json' as const),
    root: rootArb,
    prefix: fc.oneof({ weight: 20, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('\uFEFF', ' \n', '\u0000') }),
    suffix: fc.oneof({ weight: 20, arbitrary: fc.constant('') }, { weight: 2, arbitrary: fc.constantFrom('\n', ' ', ',', '}', ']', '{}', '// c', 'x') }),
  });
}

/** Form fields of one of `sets`, percent-encoded (mostly) or written raw. */
export function formBodyArb(sets: FieldSets): fc.Arbitrary<Body> {
  return fc.record({
    kind: fc.constant('form' as const),
    fields: fc.oneof(...sets.map((names) => entriesArb(names, (text) => text))),
    encode: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  });
}

const rawTextArb: fc.Arbitrary<Text> = fc.oneof(
  fc.json({ maxDepth: 3 }).map((text): Text => [text]),
  fc.tuple(fc.constantFrom('{"username":"merchant-app","password":"', '{"refresh_token":"', '{"token":"', 'refresh_token=', '{"grant_type":'), realTokenArb).map(([head, secret]): Text => [head, secret]),
  fc.tuple(fc.constantFrom('[', '{"a":', '{"a":['), fc.integer({ min: 100, max: 6000 })).map(([open, times]): Text => [{ repeat: open, times }]),
  fc.constantFrom("{'username':'merchant-app'}", '{"username":"merchant-app",}', '{username:"a"}', '{"a":1}{"b":2}', 'NaN', '{"a":"\\ud800"}', '{"a":"\\x41"}', '').map((text): Text => [text]),
  fc.string({ unit: 'grapheme', maxLength: 60 }).map((text): Text => [text]),
  hugeArb.map((piece): Text => [piece]),
);

/** A body that is not what the route reads: raw text in an encoding of its own, or bytes. */
export const junkBodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: rawTextArb, encoding: fc.constantFrom('utf8', 'utf8', 'utf8', 'latin1', 'utf16le') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' } as const) },
);

/** A body for an auth endpoint that reads one of `sets`: JSON or form mostly, junk sometimes. */
export function authBodyArb(sets: FieldSets): fc.Arbitrary<Body> {
  return fc.oneof({ weight: 8, arbitrary: jsonBodyArb(sets) }, { weight: 5, arbitrary: formBodyArb(sets) }, { weight: 1, arbitrary: junkBodyArb });
}
