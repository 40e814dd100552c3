/**
 * One generator per route of the server, each mostly well-formed (so the success paths run too)
 * and otherwise broken in every way the shapes in `http-shapes.ts` and `token-shapes.ts` know,
 * and their union: the requests the fuzz property is checked over.
 */
import fc from 'fast-check';
import type { Body, FuzzRequest, RouteName, ServerName, Text } from './model.js';
import {
  anyMethodArb,
  anyTargetArb,
  authBodyArb,
  authorizationArb,
  contentTypeChoiceArb,
  contentTypeFor,
  extraHeadersArb,
  junkBodyArb,
  plainSegmentArb,
  queryArb,
  segmentArb,
  targetArb,
} from './http-shapes.js';
import { consoleRequestArb } from './console-shapes.js';
import { dpopHeadersArb } from './dpop-shapes.js';
import { accessTokenArb, tokenTextArb } from './token-shapes.js';

/** The base path of the fuzzed servers (the default). */
export const FUZZ_BASE_PATH = '/bankit-api/antPeer/v1';
const WELL_KNOWN = '/.well-known/oauth-authorization-server';

/** The peer of the connection: anywhere, loopback (a trusted proxy for the gateway server), or a few repeat offenders. */
const remoteArb = fc.oneof(
  { weight: 5, arbitrary: fc.ipV4() },
  { weight: 1, arbitrary: fc.ipV6() },
  { weight: 2, arbitrary: fc.constantFrom('127.0.0.1', '::1', '::ffff:127.0.0.1') },
  { weight: 2, arbitrary: fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::1') },
);

/**
 * Mostly no time passes; sometimes seconds (grace windows), now and then minutes, rarely long
 * enough for every token and session to expire. Small on average (about 4 s), so that failures
 * from one source pile up within the brute-force windows.
 */
const advanceArb = fc.oneof(
  { weight: 9000, arbitrary: fc.constant(0) },
  { weight: 900, arbitrary: fc.integer({ min: 1, max: 15_000 }) },
  { weight: 90, arbitrary: fc.integer({ min: 15_000, max: 300_000 }) },
  { weight: 10, arbitrary: fc.integer({ min: 1_000_000, max: 40_000_000 }) },
);

interface RouteShape {
  route: RouteName;
  servers: fc.Arbitrary<ServerName>;
  method: fc.Arbitrary<string>;
  target: fc.Arbitrary<Text>;
  body: fc.Arbitrary<Body>;
  /** The Authorization header, if the route reads one (null: none). */
  authorization: fc.Arbitrary<Text | null>;
  /** `DPoP` headers, for the routes that read them. */
  dpop?: fc.Arbitrary<[string, Text][]>;
}

const mostlyPlain = fc.constantFrom<ServerName>('plain', 'plain', 'plain', 'gateway');
const mostlyGateway = fc.constantFrom<ServerName>('gateway', 'gateway', 'gateway', 'plain');

function usualMethod(method: string): fc.Arbitrary<string> {
  return fc.oneof({ weight: 9, arbitrary: fc.constant(method) }, { weight: 1, arbitrary: anyMethodArb });
}

function sometimes(arbitrary: fc.Arbitrary<Text>, freq = 4): fc.Arbitrary<Text | null> {
  return fc.option(arbitrary, { freq, nil: null });
}

const boundSlot = fc.nat(3);

/**
 * An access token as a client sends it (mostly live and well-formed), or anything else; a token
 * bound to DPoP key A under the DPoP scheme (or, by mistake or malice, Bearer), and a bearer token
 * under the DPoP scheme.
 */
const bearerAuthorization: fc.Arbitrary<Text> = fc.oneof(
  { weight: 3, arbitrary: accessTokenArb.map((secret): Text => ['Bearer ', secret]) },
  { weight: 2, arbitrary: authorizationArb(tokenTextArb(accessTokenArb)) },
  { weight: 2, arbitrary: boundSlot.map((slot): Text => ['DPoP ', { secret: { kind: 'boundAccess', slot }, mutation: { op: 'none' } }]) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Bearer ', 'dpop ', 'DPoP  ', 'DPoP'), boundSlot).map(([scheme, slot]): Text => [scheme, { secret: { kind: 'boundAccess', slot }, mutation: { op: 'none' } }]) },
  { weight: 1, arbitrary: accessTokenArb.map((secret): Text => ['DPoP ', secret]) },
);

function requestArb(shape: RouteShape): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      server: shape.servers,
      method: shape.method,
      target: shape.target,
      body: shape.body,
      contentType: contentTypeChoiceArb,
      authorization: shape.authorization,
      dpop: shape.dpop ?? fc.constant([]),
      extra: extraHeadersArb,
      remote: remoteArb,
      advanceMs: advanceArb,
    })
    .map(({ body, contentType, authorization, dpop, extra, ...rest }): FuzzRequest => {
      const headers: [string, Text][] = [];
      const type = contentTypeFor(body, contentType);
      if (type !== null) headers.push(['Content-Type', [type]]);
      if (authorization !== null) headers.push(['Authorization', authorization]);
      // After Authorization: a proof's ath is the hash of the token the request carries.
      headers.push(...dpop);
      headers.push(...extra);
      return { route: shape.route, body, headers, ...rest };
    });
}

/** An introspection caller: a client application by HTTP Basic or by its access token, or anything else. */
const callerAuthorization: fc.Arbitrary<Text> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Text>(['Basic ', { base64: ['merchant-app:', { secret: { kind: 'password' }, mutation: { op: 'none' } }] }]) },
  { weight: 2, arbitrary: accessTokenArb.map((secret): Text => ['Bearer ', secret]) },
  { weight: 2, arbitrary: authorizationArb() },
);

const base = FUZZ_BASE_PATH;
const noBody = fc.oneof({ weight: 8, arbitrary: fc.constant<Body>({ kind: 'none' }) }, { weight: 1, arbitrary: junkBodyArb });
const noAuthorization = sometimes(authorizationArb(), 1);

const ROUTES: readonly [weight: number, shape: RouteShape][] = [
  [30, { route: 'token', servers: mostlyPlain, method: usualMethod('POST'), target: targetArb(`${base}/auth/token`), body: authBodyArb([['username', 'password'], ['grant_type', 'username', 'password'], ['grant_type', 'refresh_token'], ['refresh_token'], ['grant_type', 'username', 'password', 'refresh_token']]), authorization: noAuthorization, dpop: dpopHeadersArb }],
  [8, { route: 'logout', servers: mostlyPlain, method: usualMethod('POST'), target: targetArb(`${base}/auth/logout`), body: authBodyArb([['refresh_token']]), authorization: noAuthorization }],
  [8, { route: 'revoke', servers: mostlyPlain, method: usualMethod('POST'), target: targetArb(`${base}/auth/revoke`), body: authBodyArb([['token'], ['token', 'token_type_hint']]), authorization: noAuthorization }],
  [8, { route: 'introspect', servers: mostlyPlain, method: usualMethod('POST'), target: targetArb(`${base}/auth/introspect`), body: authBodyArb([['token'], ['token', 'token_type_hint']]), authorization: sometimes(callerAuthorization, 8) }],
  [3, { route: 'certs', servers: mostlyPlain, method: usualMethod('GET'), target: targetArb(`${base}/auth/certs`), body: noBody, authorization: noAuthorization }],
  [
    8,
    {
      route: 'verify',
      servers: mostlyPlain,
      method: anyMethodArb,
      target: fc.oneof(targetArb(`${base}/auth/verify`), fc.array(segmentArb, { maxLength: 3 }).map((segments): Text => [`${base}/auth/verify`, ...segments.flatMap((segment) => ['/', segment])])),
      body: noBody,
      authorization: sometimes(bearerAuthorization, 8),
      dpop: dpopHeadersArb,
    },
  ],
  [4, { route: 'metadata', servers: mostlyPlain, method: usualMethod('GET'), target: fc.constantFrom(`${WELL_KNOWN}${base}`, `${base}${WELL_KNOWN}`).chain(targetArb), body: noBody, authorization: noAuthorization }],
  [3, { route: 'health', servers: mostlyPlain, method: usualMethod('GET'), target: fc.constantFrom('/healthz', '/readyz').chain(targetArb), body: noBody, authorization: noAuthorization }],
  [2, { route: 'openapi', servers: mostlyPlain, method: usualMethod('GET'), target: targetArb('/openapi.json'), body: noBody, authorization: noAuthorization }],
  [
    18,
    {
      route: 'gateway',
      servers: mostlyGateway,
      method: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH') }, { weight: 1, arbitrary: anyMethodArb }),
      target: fc
        .tuple(fc.array(fc.oneof({ weight: 6, arbitrary: plainSegmentArb }, { weight: 1, arbitrary: segmentArb }), { minLength: 1, maxLength: 4 }), fc.option(queryArb, { freq: 4, nil: [] }))
        .map(([segments, query]): Text => [base, ...segments.flatMap((segment) => ['/', segment]), ...query]),
      body: fc.oneof({ weight: 2, arbitrary: noBody }, { weight: 1, arbitrary: authBodyArb([['username', 'password', 'refresh_token']]) }),
      authorization: sometimes(bearerAuthorization, 10),
      dpop: dpopHeadersArb,
    },
  ],
  [8, { route: 'anything', servers: fc.constantFrom<ServerName>('plain', 'gateway'), method: anyMethodArb, target: anyTargetArb(base), body: fc.oneof(noBody, authBodyArb([['refresh_token', 'token']])), authorization: noAuthorization }],
];

/** A request to the web console, which only the plain server has. */
const consoleArb: fc.Arbitrary<FuzzRequest> = fc
  .record({ parts: consoleRequestArb, remote: remoteArb, advanceMs: advanceArb })
  .map(({ parts, remote, advanceMs }): FuzzRequest => ({ route: 'console', server: 'plain', remote, advanceMs, ...parts }));

/** Every route, weighted by how much there is to find in it. */
export const fuzzRequestArb: fc.Arbitrary<FuzzRequest> = fc.oneof(
  ...ROUTES.map(([weight, shape]) => ({ weight, arbitrary: requestArb(shape) })),
  { weight: 16, arbitrary: consoleArb },
);
