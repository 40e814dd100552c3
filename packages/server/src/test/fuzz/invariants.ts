/**
 * What must hold after every fuzzed request, whatever it was: no 5xx and no crash; every error in
 * the OAuth shape, repeating neither the path nor a token; no secret in an answer or a log; no
 * state change beyond what the answer says happened; and nothing unauthenticated at the upstream.
 * Each check returns findings written without secrets (see {@link redact}).
 */
import type { Arrival } from '../recording-upstream.js';
import { INJECTIONS } from './console-shapes.js';
import { isKnownBad } from './dpop-shapes.js';
import type { ConcreteRequest } from './materialize.js';
import type { AuditRow, Snapshot } from './store-state.js';

export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

export interface Observation {
  request: ConcreteRequest;
  answer: Answer;
  before: Snapshot;
  after: Snapshot;
  /** Audit events recorded while the request ran. */
  events: AuditRow[];
  logs: string[];
  /** Requests that reached the upstream while this one ran (null: the server has no upstream). */
  arrivals: Arrival[] | null;
  /** Unhandled rejections and uncaught exceptions seen while the request ran. */
  crashes: unknown[];
  /** Secrets the target knows of beyond the request's own: the pool's tokens and the passwords. */
  knownSecrets: readonly string[];
  basePath: string;
  /** The username the verified identity of a proxied request must carry. */
  username: string;
  /** The fixture administrator's console session when the request was sent (null: none). */
  console: { cookie: string; csrf: string } | null;
  /** The answering server's DPoP nonce when the request was sent (null: it asks for none). */
  dpopNonce: string | null;
}

/** Pieces of a secret that must never show: a 16-character window every 8 over its secret part. */
const WINDOW = 16;
const STEP = 8;

/**
 * The part of a secret that is secret: a JWT's signature (its header and claims are readable by
 * anyone and shared by every token), a refresh token's MAC (its first 27 characters are the
 * session id and generation), anything else whole.
 */
function secretPart(value: string): string {
  const segments = value.split('.');
  if (segments.length === 3 && value.startsWith('eyJ')) return segments[2] as string;
  if (/^[A-Za-z0-9_-]{70}$/.test(value)) return value.slice(27);
  return value;
}

/** The windows of `value` that no answer or log may contain. */
export function windowsOf(value: string): string[] {
  const part = secretPart(value);
  if (part.length < WINDOW) return part.length >= 8 ? [part] : [];
  const windows: string[] = [];
  for (let at = 0; at + WINDOW <= part.length; at += STEP) windows.push(part.slice(at, at + WINDOW));
  windows.push(part.slice(-WINDOW));
  return windows;
}

/**
 * `text` with every secret taken out — each run of token characters holding a window of one,
 * whole, and any other window — on one line: what a finding may print.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const windows = secrets.flatMap(windowsOf);
  let result = text.replace(/[A-Za-z0-9_.+/=-]{16,}/g, (run) => (windows.some((window) => run.includes(window)) ? '[secret]' : run));
  for (const window of windows) result = result.split(window).join('[secret]');
  result = result.replace(/\s*\n\s*/g, ' | ');
  return result.length > 600 ? `${result.slice(0, 600)}…` : result;
}

function leaks(text: string, secret: string): boolean {
  return windowsOf(secret).some((window) => text.includes(window));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The OAuth error code an answer gives: its JSON body's `error`, else its challenge's (null: none). */
export function errorCodeOf(answer: Answer): string | null {
  const error = (parseJson(answer.body) as { error?: unknown } | undefined)?.error;
  if (typeof error === 'string') return error;
  return /error="([^"]*)"/.exec(String(answer.headers['www-authenticate'] ?? ''))?.[1] ?? null;
}

/** The tokens a successful token answer hands out (they may show in that answer). */
export function issuedTokens(answer: Answer): string[] {
  if (answer.status !== 200) return [];
  const body = parseJson(answer.body) as Record<string, unknown> | undefined;
  return [body?.access_token, body?.refresh_token].filter((value): value is string => typeof value === 'string');
}

/** Which auth endpoint a request target names, read as the router does (it ends a path at `?`, `;` or `#`). */
export function endpointOf(url: string): 'token' | 'logout' | 'revoke' | 'introspect' | null {
  let path = url.replace(/^[a-z]+:\/\/[^/?#]*/i, '').split(/[?;#]/)[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // the router refuses it too
  }
  const match = /\/auth\/(token|logout|revoke|introspect)$/.exec(path);
  return (match?.[1] as 'token' | 'logout' | 'revoke' | 'introspect' | undefined) ?? null;
}

const isHtml = (answer: Answer) => String(answer.headers['content-type'] ?? '').startsWith('text/html');

function checkAnswer(o: Observation, findings: string[], allSecrets: string[]): void {
  const { answer, request } = o;
  if (!(answer.status >= 100 && answer.status < 500)) findings.push(`answered ${answer.status}`);
  // The console answers its refusals as pages; the checks of every HTML answer are in checkConsole.
  if (answer.status >= 400 && request.method !== 'HEAD' && !isHtml(answer)) {
    const body = parseJson(answer.body);
    const shaped =
      typeof body === 'object' && body !== null && !Array.isArray(body) &&
      Object.keys(body).sort().join() === 'error,error_description' &&
      typeof (body as Record<string, unknown>).error === 'string' && typeof (body as Record<string, unknown>).error_description === 'string';
    if (!shaped) findings.push(`a ${answer.status} answer is not {"error", "error_description"}: ${redact(answer.body, allSecrets)}`);
    if (!String(answer.headers['content-type'] ?? '').startsWith('application/json')) findings.push(`a ${answer.status} answer is not application/json`);
  }
  const everything = `${answer.body}\n${Object.entries(answer.headers).map(([name, value]) => `${name}: ${String(value)}`).join('\n')}`;
  for (const canary of request.canaries) {
    if (everything.includes(canary)) findings.push(`the answer repeats "${canary}", which the request carried in its path or headers`);
  }
  const issued = new Set(issuedTokens(answer).flatMap(windowsOf));
  for (const secret of new Set([...request.secrets.map((sent) => sent.value), ...o.knownSecrets])) {
    // A signed-in page carries its session's CSRF token in its forms: that is where it goes.
    if (o.console !== null && secret === o.console.csrf && isHtml(answer) && request.consoleCookies.includes(o.console.cookie)) continue;
    const shown = windowsOf(secret).filter((window) => everything.includes(window) && !issued.has(window));
    if (shown.length > 0) {
      const label = request.secrets.find((sent) => sent.value === secret)?.label ?? 'a secret of the pool';
      findings.push(`the ${answer.status} answer contains ${label}: ${redact(answer.body, allSecrets)}`);
    }
  }
}

function checkLogs(o: Observation, findings: string[], allSecrets: string[]): void {
  for (const line of o.logs) {
    const entry = parseJson(line) as { level?: number; msg?: string } | undefined;
    if ((entry?.level ?? 0) >= 50) findings.push(`the server logged an error: ${redact(line, allSecrets)}`);
    else if (/already sent|may not be fulfilled/i.test(entry?.msg ?? '')) findings.push(`the server answered twice: ${redact(line, allSecrets)}`);
    for (const secret of allSecrets) {
      if (leaks(line, secret)) {
        const label = o.request.secrets.find((sent) => sent.value === secret)?.label ?? 'a token it issued or a password';
        findings.push(`a log line contains ${label}: ${redact(line, allSecrets)}`);
      }
    }
  }
}

const ALLOWED_EVENTS: Record<'token' | 'logout' | 'revoke' | 'introspect', { ok: string[]; refused: string[] }> = {
  token: { ok: ['login_succeeded', 'refresh_token_replay'], refused: ['login_failed', 'login_locked', 'lockout_started', 'session_limit_reached', 'refresh_token_reuse'] },
  logout: { ok: ['session_logout'], refused: [] },
  revoke: { ok: ['session_revoked'], refused: [] },
  introspect: { ok: ['login_failed', 'login_locked', 'lockout_started'], refused: ['login_failed', 'login_locked', 'lockout_started'] },
};
/** What a console sign-in records, whatever else the request carried. */
const CONSOLE_SIGN_IN_EVENTS = ['console_login_succeeded', 'console_login_failed', 'lockout_started'];
const ENDING_EVENTS = new Set(['session_logout', 'session_revoked', 'refresh_token_reuse']);

/**
 * The store changes only as the answer says: a refused request creates, rotates and ends no
 * session (but a detected reuse ends the session of the token presented, as RFC 9700 says); a
 * success changes exactly one session, the one the request named or the one it started.
 */
function checkState(o: Observation, findings: string[]): void {
  const { before, after, events, answer, request } = o;
  for (const field of ['users', 'enabledUsers', 'userNotBefore', 'usersUpdatedAt', 'settings', 'keys', 'retiredKeys'] as const) {
    if (before[field] !== after[field]) findings.push(`${field} changed from ${before[field]} to ${after[field]}`);
  }
  const refused = answer.status >= 400;
  const endpoint = request.method === 'POST' ? endpointOf(request.url) : null;
  const signIn = request.method === 'POST' && /\/login\/?(?:[?;#]|$)/i.test(request.url);
  const allowed = signIn ? CONSOLE_SIGN_IN_EVENTS : endpoint === null ? [] : ALLOWED_EVENTS[endpoint][refused ? 'refused' : 'ok'];
  for (const event of events) {
    if (!allowed.includes(event.type)) findings.push(`a ${answer.status} answer recorded the audit event ${event.type}`);
  }
  const count = (type: string) => events.filter((event) => event.type === type).length;
  const created = after.sessions - before.sessions;
  if (created !== count('login_succeeded') || created > 1) findings.push(`${created} session(s) created, ${count('login_succeeded')} login(s) recorded, on a ${answer.status} answer`);
  const ended = after.endedSessions - before.endedSessions;
  const endings = events.filter((event) => ENDING_EVENTS.has(event.type));
  if (ended !== endings.length || ended > 1) findings.push(`${ended} session(s) ended, ${endings.length} ending(s) recorded, on a ${answer.status} answer`);
  const named = new Set(request.secrets.map((secret) => secret.sessionId).filter((id) => id !== null));
  for (const ending of endings) {
    if (ending.sessionId === null || !named.has(ending.sessionId)) findings.push(`${ending.type} ended a session the request did not name`);
  }
  if (count('refresh_token_reuse') > 0) {
    const description = (parseJson(answer.body) as { error_description?: unknown } | undefined)?.error_description;
    if (answer.status !== 400 || description !== 'Refresh token reuse detected') findings.push(`a reuse was recorded on a ${answer.status} answer (${String(description)})`);
  }
  const rotated = after.generations - before.generations;
  const rotation = rotated === 1 && !refused && endpoint === 'token' && created === 0 && count('refresh_token_replay') === 0;
  if (rotated !== 0 && !rotation) findings.push(`session generations moved by ${rotated} on a ${answer.status} answer`);
  if (before.idleExpiry !== after.idleExpiry && !rotation && created === 0) findings.push(`a session's idle expiry moved on a ${answer.status} answer`);
}

/** A proxied request carries the verified identity, once, and nothing the client claimed; a refused one never arrives. */
function checkUpstream(o: Observation, findings: string[]): void {
  const arrivals = o.arrivals ?? [];
  if (arrivals.length === 0) return;
  if (arrivals.length > 1) findings.push(`${arrivals.length} requests reached the upstream`);
  if (o.answer.status !== 200) findings.push(`a request answered ${o.answer.status} reached the upstream`);
  const named = new Set(o.request.secrets.map((secret) => secret.sessionId));
  for (const arrival of arrivals) {
    if (!/^\/svc(\/|\?|$)/.test(arrival.url)) findings.push('the upstream was asked for a path outside its prefix');
    if (arrival.rawHeaderNames.some((name) => name.includes('_'))) findings.push('a header name with an underscore reached the upstream');
    if (arrival.headers.authorization !== undefined) findings.push('the Authorization header reached the upstream');
    const identity = Object.keys(arrival.headers).filter((name) => name.startsWith('x-auth-')).sort();
    if (identity.join() !== 'x-auth-session,x-auth-subject,x-auth-token-id,x-auth-username') findings.push(`the upstream got the identity headers ${identity.join(', ')}`);
    if (arrival.headers['x-auth-username'] !== o.username) findings.push('the upstream got another username than the verified one');
    if (!named.has(String(arrival.headers['x-auth-session']))) findings.push('the upstream got a session the request’s token does not belong to');
    for (const canary of o.request.canaries) {
      if (identity.some((name) => String(arrival.headers[name]).includes(canary))) findings.push(`a spoofed identity value reached the upstream (${canary})`);
    }
  }
}

/**
 * The web console: every HTML answer carries the policy that forbids framing and inline script and
 * shows no markup a request sent; a sign-in never hands out a cookie the request came with; and
 * without the administrator's cookie and CSRF token nothing changes but sign-in's own records.
 */
function checkConsole(o: Observation, findings: string[]): void {
  const { answer, request, before, after, events } = o;
  if (isHtml(answer)) {
    if (!/frame-ancestors 'none'/.test(String(answer.headers['content-security-policy'] ?? ''))) findings.push(`an HTML ${answer.status} answer has no content security policy forbidding framing`);
    if (answer.headers['x-frame-options'] !== 'DENY') findings.push(`an HTML ${answer.status} answer has no X-Frame-Options: DENY`);
    for (const injection of INJECTIONS) if (answer.body.includes(injection)) findings.push(`an HTML ${answer.status} answer shows the markup ${injection} unescaped`);
  }
  const setCookie = [answer.headers['set-cookie'] ?? []].flat().map(String);
  for (const cookie of setCookie) {
    const value = /^antpeer_console=([^;]*)/.exec(cookie)?.[1];
    if (value && request.consoleCookies.includes(value)) findings.push('a sign-in kept the console cookie the request came with');
    if (value && answer.status !== 303) findings.push(`a ${answer.status} answer set a console session cookie`);
  }
  if (request.consoleAuthorized) return;
  if (after.administrators !== before.administrators) findings.push(`administrators changed from ${before.administrators} to ${after.administrators} without a console session and CSRF token`);
  const signIns = events.filter((event) => event.type === 'console_login_succeeded').length;
  if (after.consoleSessions - before.consoleSessions > signIns) findings.push(`${after.consoleSessions - before.consoleSessions} console session(s) created on ${signIns} sign-in(s)`);
}

/**
 * DPoP (RFC 9449): a proof broken in a way no request can mend is never accepted, at the token
 * endpoint nor from a client presenting a token under the DPoP scheme; refusals use the RFC's
 * codes: 400 `invalid_dpop_proof` at the token endpoint, 401 with a `DPoP` challenge at a resource.
 */
function checkDpop(o: Observation, findings: string[]): void {
  checkDpopNonce(o, findings);
  const { answer, request } = o;
  const endpoint = request.method === 'POST' ? endpointOf(request.url) : null;
  const atToken = endpoint === 'token';
  const authorization = [request.headers.Authorization ?? request.headers.authorization ?? []].flat()[0] ?? '';
  // A resource: what the gateway and forward authentication guard (the auth endpoints read credentials of their own).
  const atResource = endpointOf(request.url) === null && /^dpop\s/i.test(authorization);
  const challenge = String(answer.headers['www-authenticate'] ?? '');
  // A HEAD answer has no body: its error is the challenge's.
  const error = request.method === 'HEAD' ? /error="([^"]*)"/.exec(challenge)?.[1] : (parseJson(answer.body) as { error?: unknown } | undefined)?.error;
  // (Which endpoint a target reaches is the router's call: a 400 must come from a target that may be the token endpoint, a 401 with its challenge.)
  if (error === 'invalid_dpop_proof' && !(answer.status === 400 ? atToken : answer.status === 401 && /^DPoP .*error="invalid_dpop_proof"/.test(challenge))) {
    findings.push(`invalid_dpop_proof answered ${answer.status}${challenge ? ` with "${challenge.split(' ')[0] ?? ''}"` : ''}`);
  }
  if (/error="invalid_dpop_proof"/.test(challenge) && (answer.status !== 401 || error !== 'invalid_dpop_proof')) findings.push(`a DPoP proof challenge on a ${answer.status} ${String(error)} answer`);
  if (atResource && answer.status === 401 && /^DPoP [A-Za-z0-9._~+/-]+=*$/.test(authorization)) {
    if (!/^DPoP /.test(challenge)) findings.push(`a 401 to a DPoP-scheme request challenges with "${challenge.split(' ')[0] ?? ''}", not DPoP`);
    if (error !== 'invalid_dpop_proof' && error !== 'invalid_token') findings.push(`a 401 to a DPoP-scheme request says ${String(error)}`);
  }
  // Passed the token check: proxied, the gateway's answer when it has no upstream, or forward authentication's yes.
  const passed =
    (o.arrivals?.length ?? 0) > 0 || answer.body.includes('No application endpoint here') || (answer.status === 200 && answer.headers['x-auth-session'] !== undefined);
  if ((atToken && answer.status === 200) || (atResource && passed)) {
    const values = Object.entries(request.headers).filter(([name]) => name.toLowerCase() === 'dpop').flatMap(([, value]) => value);
    if (values.length > 1) findings.push('a request with two DPoP headers was accepted');
    for (const proof of request.proofs) {
      if (isKnownBad(proof.spec, atResource, o.dpopNonce !== null)) findings.push(`a bad DPoP proof was accepted: ${JSON.stringify({ ...proof.spec, mutation: proof.spec.mutation.op })}`);
    }
  }
}

/**
 * DPoP nonces (RFC 9449 §8): only a server that asks for them answers `use_dpop_nonce`, and then
 * with 400 at the token endpoint and its current nonce in `DPoP-Nonce`, for the client to retry with.
 */
function checkDpopNonce(o: Observation, findings: string[]): void {
  const { answer, request } = o;
  if (request.method === 'HEAD') return;
  const error = (parseJson(answer.body) as { error?: unknown } | undefined)?.error;
  if (error !== 'use_dpop_nonce') return;
  if (o.dpopNonce === null) findings.push('use_dpop_nonce from a server that asks for no nonce');
  else if (answer.headers['dpop-nonce'] !== o.dpopNonce) findings.push(`use_dpop_nonce with DPoP-Nonce ${JSON.stringify(answer.headers['dpop-nonce'])}, not the current nonce`);
  if (answer.status !== 400 || !(request.method === 'POST' && endpointOf(request.url) === 'token')) {
    findings.push(`use_dpop_nonce answered ${answer.status} to ${request.method} of another endpoint than the token endpoint`);
  }
}

/** Every finding about one fuzzed request; empty when it behaved. */
export function checkInvariants(o: Observation): string[] {
  const findings: string[] = [];
  const allSecrets = [...new Set([...o.request.secrets.map((secret) => secret.value), ...o.knownSecrets, ...issuedTokens(o.answer)])];
  for (const crash of o.crashes) findings.push(`crash: ${redact(crash instanceof Error ? `${crash.name}: ${crash.message}` : String(crash), allSecrets)}`);
  checkAnswer(o, findings, allSecrets);
  checkLogs(o, findings, allSecrets);
  if (!o.request.consoleAuthorized) checkState(o, findings);
  checkConsole(o, findings);
  checkDpop(o, findings);
  checkUpstream(o, findings);
  return findings;
}
