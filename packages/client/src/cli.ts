/**
 * `antpeer`: the client as a command, for scripts.
 *
 *     ANTPEER_PASSWORD=… antpeer token --base-url https://…/bankit-api/antPeer/v1 --username app
 *     printf %s "$PASSWORD" | antpeer token --base-url … --username app --password-stdin --json
 *     antpeer logout --base-url … --username app
 *
 * The session is cached in a file store (default `$XDG_CACHE_HOME/antpeer` or `~/.cache/antpeer`),
 * so repeated calls reuse one token until it needs refreshing. The password comes from
 * `ANTPEER_PASSWORD` or stdin, never from an argument (arguments are visible to every user in `ps`).
 *
 * The installed command is `bin/antpeer.js`, which calls {@link main}.
 *
 * @module
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AntPeerClientError } from './errors.js';
import { MemoryTokenStore } from './stores/memory.js';
import { FileTokenStore } from './stores/file.js';
import { TokenManager } from './token-manager.js';

/** What the command reads and writes; injected by tests. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  readStdin(): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
}

const USAGE = `Usage:
  antpeer token  --base-url <url> --username <name> [--password-stdin] [--json] [--store-dir <dir> | --no-store]
  antpeer logout --base-url <url> --username <name> [--password-stdin] [--store-dir <dir>]

  token    print a valid access token (reusing the cached session); --json prints the token response
  logout   end the cached session on the server and forget it

Options (or environment variables):
  --base-url <url>      ANTPEER_BASE_URL   e.g. https://demo.etranzact.com/bankit-api/antPeer/v1
  --username <name>     ANTPEER_USERNAME
  --password-stdin      read the password from stdin; otherwise ANTPEER_PASSWORD (never an argument)
  --store-dir <dir>     ANTPEER_STORE_DIR  where the session is cached (mode 0600 files)
  --no-store            do not read or write a cached session
  --timeout <ms>        per-request timeout (default 10000)
  --dangerously-allow-insecure-http   allow http:// to a non-loopback host (sends the password in clear)

Exit status: 0 success, 1 failure, 2 usage error.
`;

/** Runs the command with `args` (without `node` and the script); resolves to the exit status. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  if (args.some((arg) => arg === '--password' || arg.startsWith('--password=') || arg === '-p')) {
    io.stderr('antpeer: a password on the command line is visible to every user; use ANTPEER_PASSWORD or --password-stdin\n');
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        'base-url': { type: 'string' },
        username: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        json: { type: 'boolean' },
        'store-dir': { type: 'string' },
        'no-store': { type: 'boolean' },
        timeout: { type: 'string' },
        'dangerously-allow-insecure-http': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.stderr(`antpeer: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === 'help' || command === undefined) {
    (values.help || command === 'help' ? io.stdout : io.stderr)(USAGE);
    return values.help || command === 'help' ? 0 : 2;
  }
  if ((command !== 'token' && command !== 'logout') || positionals.length > 1) {
    io.stderr(`antpeer: unknown command ${JSON.stringify(positionals.join(' '))}\n\n${USAGE}`);
    return 2;
  }
  const baseUrl = values['base-url'] ?? io.env.ANTPEER_BASE_URL;
  const username = values.username ?? io.env.ANTPEER_USERNAME;
  if (!baseUrl || !username) {
    io.stderr(`antpeer: --base-url and --username are required\n\n${USAGE}`);
    return 2;
  }
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
    io.stderr('antpeer: --timeout must be a positive number of milliseconds\n');
    return 2;
  }

  let stdinPassword: Promise<string> | undefined;
  const password = async (): Promise<string> => {
    if (values['password-stdin']) {
      stdinPassword ??= io.readStdin().then((text) => text.replace(/\r?\n$/, ''));
      return stdinPassword;
    }
    const fromEnv = io.env.ANTPEER_PASSWORD;
    if (fromEnv) return fromEnv;
    throw new UsageError('a password is needed: set ANTPEER_PASSWORD or pass --password-stdin');
  };

  let manager: TokenManager;
  try {
    manager = new TokenManager({
      baseUrl,
      username,
      password,
      store: values['no-store'] ? new MemoryTokenStore() : new FileTokenStore({ directory: storeDirectory(values['store-dir'], io.env) }),
      // A command is short-lived: no background timer, and a long Retry-After is an error at once.
      scheduleRefresh: false,
      ...(timeout === undefined ? {} : { requestTimeoutMs: timeout }),
      dangerouslyAllowInsecureHttp: values['dangerously-allow-insecure-http'] === true,
    });
  } catch (error) {
    io.stderr(`antpeer: ${(error as Error).message}\n`);
    return 2;
  }

  try {
    if (command === 'logout') {
      await manager.logout();
      return 0;
    }
    const tokenSet = await manager.getTokenSet();
    io.stdout(values.json ? `${JSON.stringify(toTokenResponse(tokenSet, Date.now()), null, 2)}\n` : `${tokenSet.accessToken}\n`);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`antpeer: ${error.message}\n`);
      return 2;
    }
    const code = error instanceof AntPeerClientError ? ` [${error.code}]` : '';
    io.stderr(`antpeer: ${(error as Error).message}${code}\n`);
    return 1;
  } finally {
    await manager.close();
  }
}

class UsageError extends Error {}

/** The token response shape of the contract, with the lifetimes that remain now. */
function toTokenResponse(tokenSet: {
  accessToken: string;
  tokenType: string;
  expiresAt: number;
  refreshExpiresAt?: number;
  notBeforePolicy?: number;
  sessionState?: string;
  scope?: string;
  refreshToken?: string;
}, now: number): Record<string, unknown> {
  const remaining = (at: number): number => Math.max(0, Math.floor((at - now) / 1000));
  return {
    access_token: tokenSet.accessToken,
    expires_in: remaining(tokenSet.expiresAt),
    refresh_expires_in: tokenSet.refreshExpiresAt === undefined ? 0 : remaining(tokenSet.refreshExpiresAt),
    token_type: tokenSet.tokenType,
    id_token: null,
    'not-before-policy': tokenSet.notBeforePolicy ?? 0,
    session_state: tokenSet.sessionState ?? '',
    scope: tokenSet.scope ?? '',
    refresh_token: tokenSet.refreshToken ?? null,
  };
}

function storeDirectory(option: string | undefined, env: CliIo['env']): string {
  if (option) return option;
  if (env.ANTPEER_STORE_DIR) return env.ANTPEER_STORE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'antpeer');
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'antpeer');
  return join(homedir(), '.cache', 'antpeer');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** Runs the command on this process's arguments and standard streams; sets the exit status. */
export async function main(): Promise<void> {
  process.exitCode = await runCli(process.argv.slice(2), {
    env: process.env,
    readStdin: () => readAll(process.stdin),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
}
