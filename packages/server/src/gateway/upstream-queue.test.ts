import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { QueueFullError, QueueTimeoutError, UpstreamQueue } from './upstream-queue.js';

/** Settles pending promise callbacks. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('the upstream queue', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  const never = () => new AbortController().signal;

  it('lets `slots` requests through at once and the next ones wait, first come first served', async () => {
    const queue = new UpstreamQueue({ slots: 2, maxWaiting: 5, maxWaitMs: 1000 });
    const first = await queue.acquire(never());
    await queue.acquire(never());
    const order: string[] = [];
    const third = queue.acquire(never()).then((release) => (order.push('third'), release));
    const fourth = queue.acquire(never()).then((release) => (order.push('fourth'), release));
    await flush();
    assert.deepEqual([queue.active, queue.waiting, order], [2, 2, []]);
    first();
    first(); // a second release of the same slot frees nothing more
    await flush();
    assert.deepEqual([queue.active, queue.waiting, order], [2, 1, ['third']]);
    (await third)();
    await fourth;
    assert.deepEqual(order, ['third', 'fourth']);
  });

  it('refuses at once when `maxWaiting` requests already wait', async () => {
    const queue = new UpstreamQueue({ slots: 1, maxWaiting: 1, maxWaitMs: 1000 });
    await queue.acquire(never());
    void queue.acquire(never()).catch(() => undefined);
    await assert.rejects(queue.acquire(never()), QueueFullError);
    const none = new UpstreamQueue({ slots: 1, maxWaiting: 0, maxWaitMs: 1000 });
    await none.acquire(never());
    await assert.rejects(none.acquire(never()), QueueFullError);
  });

  it('gives up a wait at its deadline and leaves the queue', async () => {
    const queue = new UpstreamQueue({ slots: 1, maxWaiting: 5, maxWaitMs: 5000 });
    const release = await queue.acquire(never());
    const waiting = queue.acquire(never());
    mock.timers.tick(4999);
    await flush();
    assert.equal(queue.waiting, 1);
    mock.timers.tick(1);
    await assert.rejects(waiting, QueueTimeoutError);
    assert.equal(queue.waiting, 0);
    release();
    assert.equal(queue.active, 0, 'the timed-out request does not take the freed slot');
  });

  it('drops a waiter whose client went away: it never gets a slot', async () => {
    const queue = new UpstreamQueue({ slots: 1, maxWaiting: 5, maxWaitMs: 5000 });
    const release = await queue.acquire(never());
    const client = new AbortController();
    const gone = queue.acquire(client.signal);
    const next = queue.acquire(never());
    client.abort(new Error('client gone'));
    await assert.rejects(gone, /client gone/);
    release();
    await next;
    assert.deepEqual([queue.active, queue.waiting], [1, 0]);
    await assert.rejects(queue.acquire(client.signal), /client gone/, 'an aborted signal never queues');
  });
});
