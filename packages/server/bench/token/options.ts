// The options of `npm run bench:token`, parsed once with node:util's parseArgs and frozen.
import { parseArgs } from 'node:util';

export const USAGE = `usage: npm run bench:token -- [options]

  --duration <s>              seconds per load phase (default 15)
  --connections <n>           connections for password grants and the second refresh row (default 10)
  --refresh-connections <n>   refresh grants' headline concurrency, also used on PostgreSQL (default 50)
  --profile <dir>             run our server under \`node --cpu-prof\`, profiles written to <dir>
  --server <path>             benchmark another build of the server (its cli/main.js), e.g. a prototype
  --server-env KEY=VALUE[,KEY=VALUE…]
                              extra environment for our server (e.g. to try a malloc setting)
  -h, --help                  print this and exit

PostgreSQL rows use BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local test database;
they are skipped (and say so) when none answers.`;

export interface TokenBenchOptions {
  /** Seconds per measured load phase. */
  duration: number;
  connections: number;
  /**
   * Refresh grants are measured at this concurrency too (headline row): a token service's refresh
   * traffic comes from many clients at once, and group commit shares one fsync among the requests
   * in flight, so the rate depends on how many there are. Both figures are printed.
   */
  refreshConnections: number;
  /** Seconds of unmeasured load before each measurement. */
  warmup: number;
  /** Each measurement is split in this many slices, interleaved with its reference's, so drifting background load hits both alike. */
  slices: number;
  /**
   * Sessions handed round the refresh connections: more than connections, so a lost answer never
   * starves one. A load cut at the end of its slice drops the answers still in flight, and with them
   * up to one live refresh token per connection: every warm-up and slice may cost a pool that many sessions.
   */
  poolSize: number;
  profileDir: string | null;
  serverMain: string | null;
  serverEnv: Readonly<Record<string, string>>;
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

function text(name: string, raw: string | undefined): string | null {
  if (raw === '') throw new Error(`--${name} needs a value`);
  return raw ?? null;
}

function environment(raw: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (raw ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`--server-env wants KEY=VALUE, got ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
}

/** Parses `args` (the command line after the script); `null` when help was asked for. */
export function parseOptions(args: string[]): Readonly<TokenBenchOptions> | null {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      'refresh-connections': { type: 'string' },
      profile: { type: 'string' },
      server: { type: 'string' },
      'server-env': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const duration = positive('duration', values.duration, 15);
  const connections = Math.round(positive('connections', values.connections, 10));
  const refreshConnections = Math.round(positive('refresh-connections', values['refresh-connections'], 50));
  return Object.freeze({
    duration,
    connections,
    refreshConnections,
    warmup: Math.min(3, Math.max(1, Math.round(duration / 5))),
    slices: 3,
    poolSize: Math.max(connections, refreshConnections) * 24 + 16,
    profileDir: text('profile', values.profile),
    serverMain: text('server', values.server),
    serverEnv: Object.freeze(environment(values['server-env'])),
  });
}
