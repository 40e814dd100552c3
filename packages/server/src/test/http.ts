/**
 * The contract as tests see it (DESIGN §1: the base path, the token answer) and HTTP to a spawned
 * server, each request on a connection of its own (a kept-alive connection to a killed process
 * would otherwise fail the next request for reasons the test is not about).
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { decodeProtectedHeader } from 'jose';

/** The default base path (DESIGN §1), under which every route of a default server lives. */
export const BASE_PATH = '/bankit-api/antPeer/v1';

/** The field set of a successful JSON token response (DESIGN §1). */
export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_expires_in: number;
  token_type: string;
  id_token: null;
  'not-before-policy': number;
  session_state: string;
  scope: string;
  refresh_token: string;
}

/** Every field of DESIGN §1, with its type and value. */
export function assertTokenResponse(body: unknown): asserts body is TokenResponse {
  assert.equal(typeof body, 'object');
  const token = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(token).sort(), [
    'access_token',
    'expires_in',
    'id_token',
    'not-before-policy',
    'refresh_expires_in',
    'refresh_token',
    'scope',
    'session_state',
    'token_type',
  ]);
  assert.equal(typeof token.access_token, 'string');
  assert.equal(decodeProtectedHeader(token.access_token as string).typ, 'at+jwt');
  assert.equal(token.expires_in, 900);
  assert.ok(Number.isInteger(token.refresh_expires_in));
  assert.ok((token.refresh_expires_in as number) > 0 && (token.refresh_expires_in as number) <= 1800);
  assert.equal(token.token_type, 'bearer');
  assert.equal(token.id_token, null);
  assert.ok(Number.isInteger(token['not-before-policy']));
  assert.equal(typeof token.session_state, 'string');
  assert.notEqual(token.session_state, '');
  assert.equal(token.scope, '');
  assert.equal(typeof token.refresh_token, 'string');
  assert.ok((token.refresh_token as string).length >= 43, 'a refresh token carries at least 256 bits');
}

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or `{ text }` when it is not JSON. */
  body: Record<string, unknown>;
}

/** One HTTP request on a connection of its own; JSON in, JSON (or `{ text }`) out. */
export function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      url,
      {
        method,
        agent: false,
        headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { text };
          }
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) answerHeaders.append(name, one);
          }
          resolve({ status: res.statusCode ?? 0, headers: answerHeaders, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Makes a request come "from" `source` to a server that trusts X-Forwarded-For, so failure counters stay per test. */
export function fromSource(source: string | undefined): Record<string, string> {
  return source === undefined ? {} : { 'x-forwarded-for': source };
}

/** POSTs `body` as the page does: raw JSON with `Content-type: application/json`. */
export function postToken(tokenUrl: string, body: unknown, source?: string): Promise<Answer> {
  return call('POST', tokenUrl, body, fromSource(source));
}

/** The page's first request; throws unless it answers 200. */
export async function login(tokenUrl: string, username: string, password: string, source?: string): Promise<TokenResponse> {
  const answer = await postToken(tokenUrl, { username, password }, source);
  if (answer.status !== 200) throw new Error(`login failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as TokenResponse;
}

/** The page's second request. */
export function refresh(tokenUrl: string, refreshToken: string, source?: string): Promise<Answer> {
  return postToken(tokenUrl, { refresh_token: refreshToken, grant_type: 'refresh_token' }, source);
}
