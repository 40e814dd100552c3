// @node-oauth/oauth2-server behind node:http (bench/oauth2-server-reference.ts) on the same store
// kind as ours: the reference our refresh rate is compared with.
import { freePort, waitUntilServing, type HttpProcess } from '../../src/test/process.js';
import { REFERENCE_CLIENT, REFERENCE_USER } from '../reference-identity.js';
import { fillPool } from './load.js';
import { log, startScript, tempDir } from './processes.js';

export interface ReferenceServer {
  process: HttpProcess;
  tokenUrl: string;
  /** Appended to every refresh body: the reference authenticates its client; ours ignores these. */
  clientCredentials: string;
  /** A password grant's form body (to start more sessions). */
  loginBody: string;
}

/** Starts the reference (idle until its refresh slices) and logs in until `pool` holds `size` sessions. */
export async function startReference(pool: string[], size: number): Promise<ReferenceServer> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  log(`starting @node-oauth/oauth2-server reference on ${origin}…`);
  const child = startScript('oauth2-server reference', 'oauth2-server-reference.ts', [tempDir('antpeer-bench-ref-')], { env: { PORT: String(port) } });
  const reference = await waitUntilServing({ ...child, port, origin }, 90_000);
  const tokenUrl = `${origin}/oauth/token`;
  const login = new URLSearchParams({
    grant_type: 'password',
    username: REFERENCE_USER.username,
    password: REFERENCE_USER.password,
    client_id: REFERENCE_CLIENT.id,
    client_secret: REFERENCE_CLIENT.secret,
  }).toString();
  await fillPool(pool, size, tokenUrl, login, 'application/x-www-form-urlencoded');
  return { process: reference, tokenUrl, loginBody: login, clientCredentials: `&client_id=${REFERENCE_CLIENT.id}&client_secret=${REFERENCE_CLIENT.secret}` };
}
