// The load generator (autocannon, in the bench's own process) and the token requests around it.
import autocannon from 'autocannon';

export interface LoadResult {
  rate: number;
  ok: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  samples: string[];
}

export interface LoadOptions {
  url: string;
  /** POST unless said otherwise. */
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  /** A fixed body, or one built per request (called once per request sent); none for a GET. */
  body?: string | (() => string);
  /** Called with every 2xx answer's body. */
  onOk?: (body: string) => void;
  seconds: number;
  connections: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const samples: string[] = [];
  const { body } = options;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    duration: options.seconds,
    timeout: 10,
    requests: [
      {
        method: options.method ?? 'POST',
        headers: options.headers,
        ...(typeof body === 'string' ? { body } : {}),
        ...(typeof body === 'function'
          ? {
              setupRequest: (request: autocannon.Request) => {
                request.body = body();
                return request;
              },
            }
          : {}),
        onResponse: (status: number, responseBody: string) => {
          if (status >= 200 && status < 300) options.onOk?.(responseBody);
          else if (samples.length < 5) samples.push(`${status} ${responseBody.slice(0, 300)}`);
        },
      },
    ],
  });
  return {
    rate: result['2xx'] / result.duration,
    ok: result['2xx'],
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    samples,
  };
}

/** Several slices of one load measured as one: total answers over total time, p50 weighted, worst p99. */
export function combine(slices: LoadResult[], seconds: number): LoadResult {
  const ok = slices.reduce((sum, slice) => sum + slice.ok, 0);
  return {
    rate: ok / seconds,
    ok,
    p50: slices.reduce((sum, slice) => sum + slice.p50 * slice.ok, 0) / Math.max(1, ok),
    p99: Math.max(...slices.map((slice) => slice.p99)),
    non2xx: slices.reduce((sum, slice) => sum + slice.non2xx, 0),
    errors: slices.reduce((sum, slice) => sum + slice.errors, 0),
    timeouts: slices.reduce((sum, slice) => sum + slice.timeouts, 0),
    samples: slices.flatMap((slice) => slice.samples).slice(0, 5),
  };
}

/** Every measured phase that saw anything but 2xx answers; the bench fails when there is one. */
export const failures: string[] = [];

/** Records a failure when a measured phase saw anything but 2xx answers. */
export function assertClean(what: string, result: LoadResult): void {
  if (result.non2xx === 0 && result.errors === 0 && result.timeouts === 0) return;
  failures.push(
    `${what}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts` +
      (result.samples.length ? `\n    e.g. ${result.samples.join('\n         ')}` : ''),
  );
}

/** One token request outside the measured load; throws unless it succeeds. */
export async function postToken(url: string, body: string, contentType: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Logs in until `pool` holds `need` refresh tokens, a few logins at once, each answer's refresh token joining `pool`. */
export async function topUp(pool: string[], need: number, tokenUrl: string, body: string, contentType: string): Promise<void> {
  const lanes = Array.from({ length: 8 }, async () => {
    while (pool.length < need) {
      pool.push((await postToken(tokenUrl, body, contentType)).refresh_token as string);
    }
  });
  await Promise.all(lanes);
}

/** Password grants, one after another, until `pool` holds `size` live refresh tokens. */
export async function fillPool(pool: string[], size: number, url: string, body: string, contentType: string): Promise<void> {
  while (pool.length < size) pool.push((await postToken(url, body, contentType)).refresh_token as string);
}

function refreshTokenOf(body: string): string {
  const parsed = JSON.parse(body) as { refresh_token?: unknown };
  if (typeof parsed.refresh_token !== 'string') throw new Error(`no refresh_token in ${body.slice(0, 200)}`);
  return parsed.refresh_token;
}

/** A password-grant load whose every answer's refresh token starts a session in `pool`. */
export function passwordLoad(url: string, credentials: { username: string; password: string }, pool: string[]) {
  return {
    url,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credentials),
    onOk: (body: string) => pool.push(refreshTokenOf(body)),
  };
}

/**
 * The refresh workload: every request carries the live refresh token of a session nobody else is
 * using at that moment, and its answer's new token goes back to the pool (real rotations, no
 * grace-window replays). Sessions whose answer is lost (the run ends with it in flight) just
 * drop out of the pool. `extra` is appended to every form body.
 */
export function refreshLoad(url: string, pool: string[], extra = '') {
  return {
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: () => {
      const token = pool.shift();
      // An empty pool would be a bench bug; an unknown token then gets a 400 that fails the run.
      return `grant_type=refresh_token&refresh_token=${encodeURIComponent(token ?? 'pool-exhausted')}${extra}`;
    },
    onOk: (body: string) => pool.push(refreshTokenOf(body)),
  };
}
