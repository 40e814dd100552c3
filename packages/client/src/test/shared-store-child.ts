/**
 * A separate process for the file store tests. Modes:
 * - `token <baseUrl> <dir>`: prints "ready", waits for a line on stdin, gets an access token through
 *   a manager on the shared file store, prints it as JSON.
 * - `hold-lock <dir> <key>`: takes the store lock, prints "locked", and waits to be killed.
 */
import { createInterface } from 'node:readline';
import { FileTokenStore } from '../stores/file.js';
import { TokenManager } from '../token-manager.js';

const [mode, ...args] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin });
const nextLine = (): Promise<string> => new Promise((resolve) => lines.once('line', resolve));

if (mode === 'token') {
  const [baseUrl = '', directory = ''] = args;
  const manager = new TokenManager({
    baseUrl,
    username: 'app',
    password: process.env.TEST_PASSWORD ?? '',
    store: new FileTokenStore({ directory }),
  });
  const events: string[] = [];
  for (const type of ['login', 'refresh', 'adopt'] as const) manager.on(type, () => events.push(type));
  process.stdout.write('ready\n');
  await nextLine();
  const token = await manager.getAccessToken();
  process.stdout.write(`${JSON.stringify({ token, events })}\n`);
  await manager.close();
  lines.close();
} else if (mode === 'hold-lock') {
  const [directory = '', key = ''] = args;
  await new FileTokenStore({ directory }).lock(key);
  process.stdout.write('locked\n');
  await nextLine();
} else {
  process.exitCode = 2;
}
