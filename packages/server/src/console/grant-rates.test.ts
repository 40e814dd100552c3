import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { createMetrics } from '../http/metrics.js';
import { GrantRates, SAMPLE_MS } from './grant-rates.js';

describe('GrantRates', () => {
  it('gives grants per second by outcome for each sampling interval, the last one ending now', async () => {
    const { grants } = createMetrics();
    const clock = new ManualClock();
    const rates = new GrantRates(grants, clock);
    await rates.sample();
    grants.inc({ grant: 'password', outcome: 'ok' }, 20);
    grants.inc({ grant: 'refresh_token', outcome: 'ok' }, 30);
    grants.inc({ grant: 'password', outcome: 'invalid_grant' }, 5);
    clock.advance(SAMPLE_MS);
    assert.deepEqual(await rates.series(), { times: [clock.now()], rates: { invalid_grant: [0.5], ok: [5] } });
    grants.inc({ grant: 'refresh_token', outcome: 'ok' }, 1);
    clock.advance(SAMPLE_MS / 2);
    assert.deepEqual(await rates.series(), {
      times: [clock.now() - SAMPLE_MS / 2, clock.now()],
      rates: { invalid_grant: [0.5, 0], ok: [5, 0.2] },
    });
  });

  it('a clock that stands still makes no interval of no length', async () => {
    const { grants } = createMetrics();
    const rates = new GrantRates(grants, new ManualClock());
    await rates.sample();
    grants.inc({ grant: 'password', outcome: 'ok' });
    await rates.sample();
    assert.deepEqual(await rates.series(), { times: [], rates: { ok: [] } });
  });

  it('keeps an hour of history', async () => {
    const { grants } = createMetrics();
    const clock = new ManualClock();
    const rates = new GrantRates(grants, clock);
    for (let step = 0; step < 400; step++) {
      grants.inc({ grant: 'password', outcome: 'ok' }, 10);
      clock.advance(SAMPLE_MS);
      await rates.series();
    }
    const { times } = await rates.series();
    assert.equal(times.length, 360);
    assert.ok((times[0] ?? 0) >= clock.now() - 3_600_000);
  });
});
