import type { Config } from '../config.js';

/**
 * The OpenAPI 3.1 description of every route this server answers (DESIGN §1 and §4), built from
 * the configuration so that its paths are the ones served. The contract test drives every
 * operation and status listed here and checks each answer's body against its schema, so this
 * document cannot drift from the code without a test failing.
 *
 * @see {@link https://spec.openapis.org/oas/v3.1.0 OpenAPI 3.1.0}
 */

type Schema = Record<string, unknown>;

/** The methods OpenAPI 3.1 can describe; every one of them reaches the catch-all routes. */
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'] as const;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string): Schema => ({ $ref: `#/components/responses/${name}` });

/** `{"error": <error>, "error_description": <description>}`, nothing else. */
function oauthError(error: string | string[], description?: string | string[]): Schema {
  const value = (v: string | string[]) => (Array.isArray(v) ? { enum: v } : { const: v });
  return {
    type: 'object',
    required: ['error', 'error_description'],
    additionalProperties: false,
    properties: {
      error: value(error),
      error_description: description === undefined ? { type: 'string' } : value(description),
    },
  };
}

function json(schema: Schema, examples?: Record<string, { summary: string; value: unknown }>): Schema {
  return { content: { 'application/json': { schema, ...(examples ? { examples } : {}) } } };
}

const NO_STORE_HEADERS = {
  'Cache-Control': { schema: { const: 'no-store' } },
  Pragma: { schema: { const: 'no-cache' } },
};
const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 1 } } };
const CHALLENGE = {
  'WWW-Authenticate': {
    description: 'RFC 6750 §3: `Bearer realm="…"`, with `error="…"` and `error_description="…"` when a token was presented',
    schema: { type: 'string', pattern: '^Bearer realm="' },
  },
};

/** The DESIGN §1 error rows of the token endpoint, one example each. */
const TOKEN_400_ROWS: Record<string, { summary: string; value: unknown }> = {
  notJson: { summary: 'body not JSON', value: { error: 'invalid_request', error_description: 'Request body is not valid JSON' } },
  notObject: { summary: 'body not an object', value: { error: 'invalid_request', error_description: 'Request body must be a JSON object' } },
  contentType: {
    summary: 'wrong content type',
    value: { error: 'invalid_request', error_description: 'Content-Type must be application/json or application/x-www-form-urlencoded' },
  },
  duplicated: { summary: 'duplicated form field', value: { error: 'invalid_request', error_description: 'Duplicated parameter: password' } },
  missingUsername: { summary: 'username missing or not a string', value: { error: 'invalid_request', error_description: 'Missing parameter: username' } },
  disabled: { summary: 'right password, account disabled', value: { error: 'invalid_grant', error_description: 'Account disabled' } },
  sessionLimit: {
    summary: 'right password, but ANTPEER_MAX_SESSIONS_PER_CLIENT sessions already active',
    value: { error: 'invalid_grant', error_description: 'Too many active sessions' },
  },
  grantType: { summary: 'grant_type not supported', value: { error: 'unsupported_grant_type', error_description: 'Unsupported grant_type: client_credentials' } },
  noRefreshToken: { summary: 'refresh_token missing', value: { error: 'invalid_request', error_description: 'No refresh token' } },
  unknownRefreshToken: { summary: 'unknown or malformed refresh token', value: { error: 'invalid_grant', error_description: 'Invalid refresh token' } },
  expired: { summary: 'refresh token expired', value: { error: 'invalid_grant', error_description: 'Token is not active' } },
  sessionEnded: { summary: 'session ended (idle, max, logout, revoked, user disabled)', value: { error: 'invalid_grant', error_description: 'Session not active' } },
  stale: { summary: 'issued before the not-before policy', value: { error: 'invalid_grant', error_description: 'Stale token' } },
  reuse: { summary: 'reused refresh token', value: { error: 'invalid_grant', error_description: 'Refresh token reuse detected' } },
};

function components(): Schema {
  const tokenFields = {
    access_token: { type: 'string', description: 'RFC 9068 JWT (`typ: at+jwt`)', pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' },
    expires_in: { type: 'integer', minimum: 0 },
    refresh_expires_in: { type: 'integer', minimum: 0 },
    token_type: { enum: ['bearer', 'DPoP'], description: '`DPoP` when the request carried a DPoP proof (RFC 9449 §5): the access token is then bound to its key (`cnf.jkt`)' },
    'not-before-policy': { type: 'integer', minimum: 0, description: 'epoch seconds; 0 until first set' },
    session_state: { type: 'string', minLength: 1 },
    scope: { const: '' },
    refresh_token: { type: 'string', minLength: 43, description: 'opaque, at least 256 bits' },
  };
  const tokenRequired = Object.keys(tokenFields);
  return {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from `auth/token`' },
      basicAuth: { type: 'http', scheme: 'basic', description: 'A client application’s username and password' },
    },
    schemas: {
      PasswordGrant: {
        type: 'object',
        required: ['username', 'password'],
        properties: { grant_type: { const: 'password' }, username: { type: 'string', minLength: 1 }, password: { type: 'string', minLength: 1 } },
      },
      RefreshGrant: {
        type: 'object',
        required: ['refresh_token'],
        properties: { grant_type: { const: 'refresh_token' }, refresh_token: { type: 'string', minLength: 1 } },
      },
      TokenResponse: {
        description: 'The answer to a JSON request: every field of the page, `id_token: null` included',
        type: 'object',
        required: [...tokenRequired, 'id_token'],
        additionalProperties: false,
        properties: { ...tokenFields, id_token: { type: 'null' } },
      },
      TokenResponseForm: {
        description: 'The answer to a form-encoded request (RFC 6749 §5.1): without the null `id_token`',
        type: 'object',
        required: tokenRequired,
        additionalProperties: false,
        properties: tokenFields,
      },
      Introspection: {
        oneOf: [
          { type: 'object', required: ['active'], additionalProperties: false, properties: { active: { const: false } } },
          {
            type: 'object',
            required: ['active', 'token_type', 'scope', 'client_id', 'username', 'sub', 'iss', 'exp', 'iat', 'sid'],
            additionalProperties: false,
            properties: {
              active: { const: true },
              token_type: { enum: ['Bearer', 'refresh_token'] },
              scope: { type: 'string' },
              client_id: { type: 'string' },
              username: { type: 'string' },
              sub: { type: 'string' },
              aud: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
              iss: { type: 'string' },
              exp: { type: 'integer' },
              iat: { type: 'integer' },
              jti: { type: 'string' },
              sid: { type: 'string' },
            },
          },
        ],
      },
      JsonWebKeySet: {
        type: 'object',
        required: ['keys'],
        additionalProperties: false,
        properties: {
          keys: {
            type: 'array',
            items: {
              type: 'object',
              required: ['kty', 'kid', 'alg', 'use'],
              properties: {
                kty: { enum: ['OKP', 'EC', 'RSA'] },
                kid: { type: 'string' },
                alg: { enum: ['EdDSA', 'ES256', 'RS256'] },
                use: { const: 'sig' },
              },
              not: { anyOf: [{ required: ['d'] }, { required: ['p'] }, { required: ['q'] }] },
            },
          },
        },
      },
      AuthorizationServerMetadata: {
        type: 'object',
        required: ['issuer', 'token_endpoint', 'jwks_uri', 'grant_types_supported', 'not_before_policy', 'access_token_signing_alg_values_supported'],
        properties: {
          issuer: { type: 'string' },
          token_endpoint: { type: 'string' },
          jwks_uri: { type: 'string' },
          revocation_endpoint: { type: 'string' },
          introspection_endpoint: { type: 'string' },
          end_session_endpoint: { type: 'string' },
          grant_types_supported: { const: ['password', 'refresh_token'] },
          access_token_signing_alg_values_supported: { type: 'array', items: { enum: ['EdDSA', 'ES256', 'RS256'] } },
          dpop_signing_alg_values_supported: { type: 'array', items: { type: 'string' }, description: 'RFC 9449 §5.1' },
          not_before_policy: { type: 'integer', minimum: 0, description: 'epoch seconds (not RFC 8414)' },
        },
      },
      Challenge: oauthError(['unauthorized', 'invalid_token', 'invalid_request']),
      Status: { type: 'object', required: ['status'], properties: { status: { type: 'string' }, reason: { type: 'string' } } },
    },
    responses: {
      BodyTooLarge: { description: 'Body over the limit', headers: NO_STORE_HEADERS, ...json(oauthError('invalid_request')) },
      ServerError: { description: 'Anything unexpected; nothing internal is said', headers: NO_STORE_HEADERS, ...json(oauthError('server_error', 'Internal server error')) },
      Unavailable: {
        description: 'The store cannot be reached; retry later',
        headers: { ...NO_STORE_HEADERS, ...RETRY_AFTER },
        ...json(oauthError('temporarily_unavailable', 'The service is temporarily unavailable; retry later')),
      },
      TooManyRequests: {
        description: 'Too many failed requests from one source, or too many refreshes of one session',
        headers: { ...NO_STORE_HEADERS, ...RETRY_AFTER },
        ...json(oauthError('too_many_requests')),
      },
      BadRequest: { description: 'A parameter is missing or malformed, or the body is not JSON or form-encoded', headers: NO_STORE_HEADERS, ...json(oauthError('invalid_request')) },
    },
  };
}

const FORM_OR_JSON = (schema: Schema): Schema => ({
  required: true,
  content: { 'application/json': { schema }, 'application/x-www-form-urlencoded': { schema } },
});

function authPaths(): Record<string, Schema> {
  const storeErrors = { '413': response('BodyTooLarge'), '500': response('ServerError'), '503': response('Unavailable') };
  return {
    '/auth/token': {
      post: {
        operationId: 'token',
        summary: 'Password and refresh grants (DESIGN §1)',
        requestBody: FORM_OR_JSON({ oneOf: [ref('PasswordGrant'), ref('RefreshGrant')] }),
        responses: {
          '200': { description: 'Tokens', headers: NO_STORE_HEADERS, ...json({ oneOf: [ref('TokenResponse'), ref('TokenResponseForm')] }) },
          '400': {
            description: 'A row of the error table',
            headers: NO_STORE_HEADERS,
            ...json(
              {
                oneOf: [
                  oauthError('invalid_request'),
                  oauthError('invalid_grant', ['Account disabled', 'Too many active sessions', 'Invalid refresh token', 'Token is not active', 'Session not active', 'Stale token', 'Refresh token reuse detected', 'DPoP key mismatch']),
                  oauthError('unsupported_grant_type'),
                  oauthError('invalid_dpop_proof'),
                  oauthError('use_dpop_nonce'),
                ],
              },
              TOKEN_400_ROWS,
            ),
          },
          '401': {
            description: 'Unknown user, wrong password or temporarily locked: one answer for all three',
            headers: NO_STORE_HEADERS,
            ...json(oauthError('invalid_grant', 'Invalid user credentials')),
          },
          '429': response('TooManyRequests'),
          ...storeErrors,
        },
      },
    },
    '/auth/logout': {
      post: {
        operationId: 'logout',
        summary: 'Ends the session of a refresh token at once',
        requestBody: FORM_OR_JSON({ type: 'object', required: ['refresh_token'], properties: { refresh_token: { type: 'string' } } }),
        responses: {
          '204': { description: 'The session has ended', headers: NO_STORE_HEADERS },
          '400': {
            description: 'No refresh token, an unknown one, or one whose session already ended',
            headers: NO_STORE_HEADERS,
            ...json({ oneOf: [oauthError('invalid_request'), oauthError('invalid_grant', ['Invalid refresh token', 'Session not active'])] }),
          },
          ...storeErrors,
        },
      },
    },
    '/auth/revoke': {
      post: {
        operationId: 'revoke',
        summary: 'RFC 7009 revocation: needs only the token; 200 whether or not it was known',
        requestBody: FORM_OR_JSON({
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string' }, token_type_hint: { enum: ['refresh_token', 'access_token'] } },
        }),
        responses: { '200': { description: 'Revoked, or never known', headers: NO_STORE_HEADERS }, '400': response('BadRequest'), ...storeErrors },
      },
    },
    '/auth/introspect': {
      post: {
        operationId: 'introspect',
        summary: 'RFC 7662 introspection, for client applications',
        security: [{ basicAuth: [] }, { bearerAuth: [] }],
        requestBody: FORM_OR_JSON({
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string' }, token_type_hint: { enum: ['refresh_token', 'access_token'] } },
        }),
        responses: {
          '200': { description: 'Whether the token is active and, if so, whose', headers: NO_STORE_HEADERS, ...json(ref('Introspection')) },
          '400': response('BadRequest'),
          '401': {
            description: 'The caller is not a client application',
            headers: { ...NO_STORE_HEADERS, 'WWW-Authenticate': { schema: { type: 'string', pattern: '^Basic realm="' } } },
            ...json(oauthError('invalid_client')),
          },
          '429': response('TooManyRequests'),
          ...storeErrors,
        },
      },
    },
    '/auth/certs': {
      get: {
        operationId: 'certs',
        summary: 'The JWKS (RFC 7517) of every key whose tokens may still be valid',
        responses: { '200': { description: 'Public keys only', ...json(ref('JsonWebKeySet')) } },
      },
    },
  };
}

/** Forward authentication: one operation per method, on the endpoint and below it (Envoy). */
function verifyPaths(): Record<string, Schema> {
  const operation = (method: string, suffix: string): Schema => ({
    operationId: `verify${suffix ? 'Below' : ''}${method[0]?.toUpperCase()}${method.slice(1)}`,
    summary: 'Forward authentication for nginx auth_request, Traefik ForwardAuth, Envoy ext_authz',
    description:
      'Checks the bearer token as the gateway does (signature, claims, expiry, session active, user enabled, not-before policy). ' +
      'The original request is read from X-Original-Method/X-Original-URI, else X-Forwarded-Method/X-Forwarded-Uri, else this request (Envoy appends the original path); it never changes the decision. ' +
      'A malformed Authorization header is a 401 (not 400): nginx turns anything but 2xx, 401 and 403 into a 500.',
    security: [{ bearerAuth: [] }],
    parameters: [
      ...(suffix ? [{ name: 'originalPath', in: 'path', required: true, description: 'The original path, any number of segments', schema: { type: 'string' } }] : []),
      ...['X-Original-Method', 'X-Forwarded-Method'].map((name) => ({ name, in: 'header', schema: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$" } })),
      ...['X-Original-URI', 'X-Forwarded-Uri'].map((name) => ({ name, in: 'header', schema: { type: 'string', maxLength: 8192 } })),
    ],
    responses: {
      '200': {
        description: 'The token checks out; the proxy copies the identity headers upstream',
        headers: {
          'X-Auth-Subject': { schema: { type: 'string' } },
          'X-Auth-Username': { schema: { type: 'string' } },
          'X-Auth-Session': { schema: { type: 'string' } },
          'X-Auth-Token-Id': { schema: { type: 'string' } },
          'Cache-Control': { schema: { const: 'no-store' } },
        },
      },
      '400': {
        description: 'A forwarded header no proxy sends (malformed or repeated); the description names it',
        ...json(oauthError('invalid_request')),
      },
      '401': { description: 'No token, a token that does not check out, or a malformed Authorization header', headers: CHALLENGE, ...json(ref('Challenge')) },
      '500': response('ServerError'),
      '503': response('Unavailable'),
    },
  });
  const paths: Record<string, Schema> = { '/auth/verify': {}, '/auth/verify/{originalPath}': {} };
  for (const method of METHODS) {
    (paths['/auth/verify'] as Schema)[method] = operation(method, '');
    (paths['/auth/verify/{originalPath}'] as Schema)[method] = operation(method, 'below');
  }
  return paths;
}

/** Every other path under the base: the gateway. */
function applicationPath(): Schema {
  const item: Schema = {};
  for (const method of METHODS) {
    item[method] = {
      operationId: `application${method[0]?.toUpperCase()}${method.slice(1)}`,
      summary: 'An application endpoint: a valid access token first, then the upstream (ANTPEER_UPSTREAM)',
      description: 'Any path of any depth under the base that is not an auth endpoint. The upstream receives the verified identity as X-Auth-Subject, X-Auth-Username, X-Auth-Session and X-Auth-Token-Id.',
      security: [{ bearerAuth: [] }],
      parameters: [{ name: 'applicationPath', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        '400': { description: 'A malformed Authorization header (RFC 6750 §3.1)', headers: CHALLENGE, ...json(ref('Challenge')) },
        '401': { description: 'No valid access token', headers: CHALLENGE, ...json(ref('Challenge')) },
        '404': { description: 'No upstream is configured', ...json(oauthError('not_found')) },
        '502': { description: 'The upstream could not be reached', ...json(oauthError('bad_gateway')) },
        '504': { description: 'The upstream did not answer in time (ANTPEER_UPSTREAM_TIMEOUT)', ...json(oauthError('gateway_timeout')) },
        default: { description: 'Whatever the upstream answers' },
      },
    };
  }
  return item;
}

/** Builds the document for this configuration. */
export function buildOpenApiDocument(config: Readonly<Config>): Schema {
  const base = config.basePath;
  const issuerPath = new URL(config.issuer).pathname.replace(/\/$/, '');
  const metadata = {
    get: {
      summary: 'RFC 8414 authorization server metadata, with not_before_policy',
      responses: {
        '200': { description: 'Metadata', ...json(ref('AuthorizationServerMetadata')) },
        '500': response('ServerError'),
        '503': response('Unavailable'),
      },
    },
  };
  const metadataPaths = [...new Set([`/.well-known/oauth-authorization-server${issuerPath}`, `/.well-known/oauth-authorization-server${base}`, `${base}/.well-known/oauth-authorization-server`])];
  const prefixed = (paths: Record<string, Schema>) => Object.fromEntries(Object.entries(paths).map(([path, item]) => [`${base}${path}`, item]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'AntPeer Auth',
      version: '0.1.0',
      description:
        'The AntPeer token service: OAuth 2.0 password and refresh grants at `auth/token` (JSON, the contract, and form-encoded, RFC 6749), ' +
        'logout, RFC 7009 revocation, RFC 7662 introspection, JWKS, RFC 8414 metadata, forward authentication, and the gateway that ' +
        'authenticates every other path under the base. Every GET operation also answers HEAD, without a body.',
    },
    servers: [{ url: new URL(config.issuer).origin }],
    paths: {
      ...prefixed(authPaths()),
      ...prefixed(verifyPaths()),
      ...Object.fromEntries(
        metadataPaths.map((path, index) => [path, { get: { ...metadata.get, operationId: `metadata${index === 0 ? '' : index + 1}` } }]),
      ),
      [`${base}/{applicationPath}`]: applicationPath(),
      '/healthz': { get: { operationId: 'healthz', summary: 'The process answers', responses: { '200': { description: 'Alive', ...json(ref('Status')) } } } },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'The store answers too',
          responses: {
            '200': { description: 'Ready', ...json(ref('Status')) },
            '503': {
              description: 'The store cannot be reached',
              headers: RETRY_AFTER,
              ...json(oauthError('temporarily_unavailable', 'The store cannot be reached')),
            },
          },
        },
      },
      '/openapi.json': { get: { operationId: 'openapi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', ...json({ type: 'object', required: ['openapi'] }) } } } },
    },
    components: components(),
  };
}
