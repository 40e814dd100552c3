import type { FastifyInstance } from 'fastify';
import { html } from './html.js';
import { page } from './layout.js';
import { PASSIVE_ROUTE, type ConsoleContext } from './plugin.js';

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** The audit events the second chart counts, by the label it shows. */
const EVENT_SERIES = {
  refusals: ['login_failed', 'login_locked'],
  lockouts: ['lockout_started'],
  'reuse detections': ['refresh_token_reuse'],
} as const;

/** What `dashboard.json` answers: both charts' data. */
export interface DashboardData {
  /** This instance's grants per second by outcome, one point per sampling interval. */
  grants: { times: number[]; rates: Record<string, number[]> };
  /** Events per minute over the last hour, from the audit trail (every instance). */
  events: { times: number[]; counts: Record<string, number[]> };
  totals: Record<string, number>;
}

async function dashboardData(context: ConsoleContext): Promise<DashboardData> {
  const now = context.auth.clock.now();
  // Sixty whole minutes, the last one the minute under way.
  const buckets = HOUR_MS / MINUTE_MS;
  const since = Math.floor(now / MINUTE_MS) * MINUTE_MS - (buckets - 1) * MINUTE_MS;
  const counts = await context.auth.store.audit.histogram({
    since,
    until: now + 1,
    bucketMs: MINUTE_MS,
    types: Object.values(EVENT_SERIES).flat(),
  });
  const events: DashboardData['events'] = { times: Array.from({ length: buckets }, (_, index) => since + index * MINUTE_MS), counts: {} };
  const totals: Record<string, number> = {};
  for (const [label, types] of Object.entries(EVENT_SERIES)) {
    const series = new Array<number>(buckets).fill(0);
    for (const count of counts) {
      if ((types as readonly string[]).includes(count.type) && count.bucket < buckets) series[count.bucket] = (series[count.bucket] ?? 0) + count.count;
    }
    events.counts[label] = series;
    totals[label] = series.reduce((sum, value) => sum + value, 0);
  }
  return { grants: await context.grantRates.series(), events, totals };
}

/** The dashboard: grants per second by outcome, and refusals, lockouts and reuse detections over the last hour. */
export function registerDashboard(scope: FastifyInstance, context: ConsoleContext): void {
  scope.get('/dashboard.json', PASSIVE_ROUTE, async (_request, reply) => reply.header('cache-control', 'no-store').send(await dashboardData(context)));

  scope.get('/', async (request, reply) => {
    const data = await dashboardData(context);
    const latest = Object.entries(data.grants.rates).map(([outcome, rates]) => [outcome, rates.at(-1) ?? 0] as const);
    return context.send(
      reply,
      page(
        context.pageContext(request, '/'),
        'Dashboard',
        html`<div class="grid">
<section class="panel" aria-labelledby="grants-title">
<h2 id="grants-title">Grants per second by outcome <span class="muted">(this instance, last hour)</span></h2>
<ul class="totals" id="grant-totals" aria-live="polite">${
          latest.length === 0 ? html`<li>No grants yet.</li>` : latest.map(([outcome, rate]) => html`<li>${outcome}: <strong>${rate}</strong>/s</li>`)
        }</ul>
<div class="chart" id="grants-chart" role="img" aria-label="Chart of grants per second by outcome over the last hour"></div>
</section>
<section class="panel" aria-labelledby="events-title">
<h2 id="events-title">Refusals, lockouts and reuse detections <span class="muted">(per minute, last hour)</span></h2>
<ul class="totals" id="event-totals" aria-live="polite">${Object.entries(data.totals).map(([label, total]) => html`<li>${label}: <strong>${total}</strong></li>`)}</ul>
<div class="chart" id="events-chart" role="img" aria-label="Chart of refusals, lockouts and reuse detections per minute over the last hour"></div>
</section>
</div>
<p class="muted">Updated every 5 seconds. The totals above the charts are the same data as text.</p>
<div id="dashboard-data" data-src="${context.base}/dashboard.json" hidden></div>`,
        { scripts: ['dashboard'] },
      ),
    );
  });
}
