// Interoperability with a third-party resource server (README, "Signing algorithms and resource
// servers"): Apache with Debian's mod_oauth2 (liboauth2 over cjose) verifying our access tokens
// from our JWKS, in a real Apache process. It cannot verify EdDSA; ES256 and RS256 it can, even
// from a JWKS that still publishes the OKP key of the algorithm switched away from.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { addClientApplication } from './credentials/client-applications.js';
import { startServer, type RunningServer } from './server.js';
import { CLIENT, TEST_ACTOR, TEST_ARGON2, TOKEN_PATH } from './test/harness.js';
import { freePort } from './test/process.js';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const installed = existsSync(APACHE) && existsSync(join(MODULES, 'mod_oauth2.so'));
const START_DEADLINE_MS = 10_000;

describe('Apache mod_oauth2 (Debian) as the resource server', { skip: process.env.CI === 'true' || installed ? false : 'apache2 and libapache2-mod-oauth2 are not installed' }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'antpeer-mod-oauth2-'));
  const root = mkdtempSync(join(tmpdir(), 'antpeer-apache-'));
  const tokens: Record<string, string> = {};
  let server: RunningServer | undefined;
  let apache: ChildProcess | undefined;
  let origin = '';

  before(async () => {
    assert.ok(installed, 'apache2 and libapache2-mod-oauth2 are not installed; .ci/run installs them');
    const port = await freePort();
    // One data directory, three starts: each signs with its algorithm and keeps the earlier keys published.
    for (const alg of ['EdDSA', 'ES256', 'RS256']) {
      await server?.close();
      const config = loadConfig({ ANTPEER_DATA_DIR: dataDir, PORT: String(port), ANTPEER_SIGNING_ALG: alg });
      server = await startServer(config, { logger: pino({ level: 'silent' }), argon2: TEST_ARGON2 });
      if (alg === 'EdDSA') await addClientApplication(server.auth, TEST_ACTOR, CLIENT.username, CLIENT.password);
      const response = await server.app.inject({ method: 'POST', url: TOKEN_PATH, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(CLIENT) });
      tokens[alg] = response.json<{ access_token: string }>().access_token;
    }

    // Apache drops to www-data when started as root: its files must be readable by others.
    chmodSync(root, 0o755);
    mkdirSync(join(root, 'htdocs/protected'), { recursive: true });
    writeFileSync(join(root, 'htdocs/protected/index.txt'), 'protected\n');
    const apachePort = await freePort();
    writeFileSync(
      join(root, 'httpd.conf'),
      `ServerRoot ${root}
ServerName localhost
Listen 127.0.0.1:${apachePort}
LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so
LoadModule authn_core_module ${MODULES}/mod_authn_core.so
LoadModule authz_core_module ${MODULES}/mod_authz_core.so
LoadModule authz_user_module ${MODULES}/mod_authz_user.so
LoadModule oauth2_module ${MODULES}/mod_oauth2.so
User www-data
Group www-data
PidFile ${root}/httpd.pid
ErrorLog ${root}/error.log
LogLevel warn
DocumentRoot ${root}/htdocs
<Location /protected>
  AuthType oauth2
  OAuth2TokenVerify jwks_uri http://127.0.0.1:${port}${server?.auth.config.basePath}/auth/certs
  Require valid-user
</Location>
`,
    );
    apache = spawn(APACHE, ['-X', '-f', join(root, 'httpd.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    apache.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    origin = `http://127.0.0.1:${apachePort}`;
    const deadline = Date.now() + START_DEADLINE_MS;
    for (;;) {
      const up = await fetch(`${origin}/`).then(() => true, () => false);
      if (up) break;
      if (apache.exitCode !== null || Date.now() > deadline) {
        const log = existsSync(join(root, 'error.log')) ? readFileSync(join(root, 'error.log'), 'utf8') : '';
        throw new Error(`apache did not start:\n${stderr}${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(async () => {
    if (apache && apache.exitCode === null) {
      const exited = new Promise((resolve) => apache?.once('exit', resolve));
      apache.kill('SIGTERM');
      await exited;
    }
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  });

  const get = async (token?: string) =>
    (await fetch(`${origin}/protected/index.txt`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) })).status;

  it('refuses EdDSA tokens: its JOSE library has no OKP keys', async () => {
    assert.equal(await get(tokens.EdDSA), 401);
  });

  it('accepts ES256 and RS256 tokens from a JWKS that still publishes the OKP key', async () => {
    assert.equal(await get(tokens.ES256), 200);
    assert.equal(await get(tokens.RS256), 200);
  });

  it('refuses a request without a token or with a forged one', async () => {
    assert.equal(await get(), 401);
    const [header, payload] = (tokens.RS256 as string).split('.');
    assert.equal(await get(`${header}.${payload}.${'A'.repeat(342)}`), 401);
  });
});
