import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { lazyRequestLogger } from './logger.js';

function capture(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const parent = pino({ level, redact: { paths: ['req.headers.authorization'], censor: '[redacted]' } }, stream);
  return { parent, lines };
}

describe('a request logger made on the first line', () => {
  it('writes what the request logs with its request id, redacted as the parent redacts', async () => {
    const { parent, lines } = capture('info');
    const log = lazyRequestLogger(parent, { reqId: 'req-1' }, {});
    log.info({ req: { headers: { authorization: 'Bearer secret' } } }, 'first');
    log.warn('second');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      lines.map(({ reqId, msg, req }) => ({ reqId, msg, req })),
      [
        { reqId: 'req-1', msg: 'first', req: { headers: { authorization: '[redacted]' } } },
        { reqId: 'req-1', msg: 'second', req: undefined },
      ],
    );
  });

  it('writes nothing below the level, and follows a level set on it', async () => {
    const { parent, lines } = capture('warn');
    const log = lazyRequestLogger(parent, { reqId: 'req-2' }, {});
    assert.equal(log.level, 'warn');
    log.info('hidden');
    log.level = 'info';
    log.info('shown');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(lines.map(({ msg }) => msg), ['shown']);
  });

  it('a child of it carries both bindings', async () => {
    const { parent, lines } = capture('info');
    lazyRequestLogger(parent, { reqId: 'req-3' }, {}).child({ part: 'proxy' }).error('failed');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lines[0]?.reqId, 'req-3');
    assert.equal(lines[0]?.part, 'proxy');
  });
});
