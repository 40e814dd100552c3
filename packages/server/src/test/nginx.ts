import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const README = fileURLToPath(new URL('../../../../README.md', import.meta.url));
const START_DEADLINE_MS = 10_000;

/** The nginx binary (Debian's `nginx` package puts it in /usr/sbin), or null when it is not installed. */
export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'nginx');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The forward-auth `server { … }` configuration exactly as the README ships it, pointed at the
 * given loopback ports. Throws when the README no longer has the addresses it is known by, so the
 * tests cannot silently run another configuration than the one operators copy.
 */
export function readmeForwardAuthConfig(ports: { nginx: number; antpeer: number; application: number }): string {
  const readme = readFileSync(README, 'utf8');
  const section = readme.indexOf('## Forward authentication');
  const start = readme.indexOf('```nginx\n', section);
  const end = readme.indexOf('\n```', start + 1);
  if (section < 0 || start < 0 || end < 0) throw new Error('README.md has no ```nginx block under "## Forward authentication"');
  let config = readme.slice(start + '```nginx\n'.length, end);
  const replacements: Array<[string, string]> = [
    ['listen 80;', `listen 127.0.0.1:${ports.nginx};`],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${ports.antpeer};`],
    ['server 127.0.0.1:9000;', `server 127.0.0.1:${ports.application};`],
  ];
  for (const [from, to] of replacements) {
    if (config.split(from).length !== 2) throw new Error(`the README's nginx configuration must contain "${from}" exactly once`);
    config = config.replace(from, to);
  }
  return config;
}

/** A running nginx. */
export interface Nginx {
  origin: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Runs nginx in the foreground as a child process (no daemon, no master, one process) with a
 * throw-away prefix for its pid and temporary files, serving `serverConfig` inside `http { … }`.
 * Resolves once it accepts connections on `port`.
 */
export async function startNginx(binary: string, serverConfig: string, port: number): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'antpeer-nginx-'));
  const temp = (name: string) => join(prefix, name);
  const config = `daemon off;
master_process off;
worker_processes 1;
error_log stderr warn;
pid ${temp('nginx.pid')};
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
${serverConfig}
}
`;
  writeFileSync(temp('nginx.conf'), config);
  const child = spawn(binary, ['-p', prefix, '-e', 'stderr', '-c', temp('nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(prefix, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (listening) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { origin: `http://127.0.0.1:${port}`, child, stderr: () => stderr, stop };
}
