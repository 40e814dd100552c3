import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeDataDir, runCli, type CliResult } from '../test/process.js';

interface ListedEvent {
  at: string;
  kind: string;
  user: string | null;
  session: string | null;
  sourceAddress: string;
  userAgent: string;
  detail: string;
}

function succeeded(result: CliResult): string {
  assert.equal(result.code, 0, `exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}

function failedWith(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 1, `expected exit 1, got ${result.code}; stdout: ${result.stdout}`);
  assert.match(result.stderr, message);
  assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
}

describe('antpeer-auth audit', { concurrency: 1 }, () => {
  const data = makeDataDir();
  const cli = (args: string[], input?: string) => runCli(args, { dataDir: data.dir, input });
  const list = async (args: string[] = []) => JSON.parse(succeeded(await cli(['audit', 'list', '--json', ...args]))) as ListedEvent[];

  before(async () => {
    succeeded(await cli(['users', 'add', 'alpha']));
    succeeded(await cli(['users', 'add', 'beta', '--password-stdin'], 'beta password 123\n'));
    succeeded(await cli(['users', 'disable', 'beta']));
    succeeded(await cli(['policy', 'not-before', '--user', 'alpha']));
    succeeded(await cli(['keys', 'rotate']));
  });
  after(() => data.cleanup());

  test('list shows every administrative change, newest first, with who ran it', async () => {
    const events = await list();
    assert.deepEqual(
      events.map((event) => event.kind),
      ['key_rotated', 'not_before_policy_set', 'user_disabled', 'user_added', 'user_added'],
    );
    for (const event of events) {
      assert.match(event.detail, /by operator "/);
      assert.equal(event.sourceAddress, 'local');
      assert.ok(!Number.isNaN(Date.parse(event.at)));
    }
    assert.equal(events.find((event) => event.kind === 'user_disabled')?.user, 'beta');
  });

  test('filters by client application, kind and time, and limits', async () => {
    assert.deepEqual((await list(['--user', 'beta'])).map((event) => event.kind), ['user_disabled', 'user_added']);
    assert.deepEqual((await list(['--kind', 'user_added'])).map((event) => event.user).sort(), ['alpha', 'beta']);
    assert.equal((await list(['--limit', '2'])).length, 2);
    assert.equal((await list(['--since', '1h'])).length, 5);
    assert.equal((await list(['--until', '1h'])).length, 0);
    assert.equal((await list(['--since', '2020-01-01T00:00:00Z', '--until', '2020-01-02T00:00:00Z'])).length, 0);
  });

  test('the table form has a header and one line per event', async () => {
    const lines = succeeded(await cli(['audit', 'list'])).trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^TIME\s+KIND\s+CLIENT APPLICATION\s+SESSION\s+SOURCE\s+USER AGENT\s+DETAIL$/);
    assert.equal(lines.length, 6);
  });

  test('export writes the same events as JSON lines', async () => {
    const lines = succeeded(await cli(['audit', 'export'])).trimEnd().split('\n');
    const exported = lines.map((line) => JSON.parse(line) as ListedEvent);
    assert.deepEqual(exported, await list());
    const filtered = succeeded(await cli(['audit', 'export', '--kind', 'key_rotated'])).trimEnd().split('\n');
    assert.equal(filtered.length, 1);
  });

  test('bad input is refused with one clear line and changes nothing', async () => {
    const before = await list();
    failedWith(await cli(['audit', 'list', '--kind', 'nope']), /--kind must be one of .*got "nope"/);
    failedWith(await cli(['audit', 'list', '--since', 'yesterday']), /--since must be an ISO 8601 time/);
    failedWith(await cli(['audit', 'list', '--until', '2026-13-45']), /--until must be an ISO 8601 time/);
    failedWith(await cli(['audit', 'list', '--since', '1h', '--until', '2h']), /--since must be before --until/);
    failedWith(await cli(['audit', 'list', '--user', 'nobody']), /no client application named "nobody"/);
    failedWith(await cli(['audit', 'list', '--limit', '0']), /--limit must be a whole number/);
    failedWith(await cli(['audit', 'export', '--kind', 'nope']), /--kind must be one of/);
    assert.deepEqual(await list(), before);
  });
});
