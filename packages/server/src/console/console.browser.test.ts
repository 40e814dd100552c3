// The web console end to end in a real headless Chromium (Debian's `chromium`, driven by
// playwright-core) against a real antpeer-auth over loopback HTTP, with an injected clock so that an
// expired console session needs no waiting. axe-core checks every page; a screenshot of each page
// goes to test-results/console/ (two of them are in the README).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CLIENT, startHarness, type Harness } from '../test/harness.js';
import { BASE_PATH } from '../test/http.js';
import { SIGN_IN_REFUSED } from './login.js';
import { ADMIN, CONSOLE, CONSOLE_ENV, addTestAdministrator } from '../test/console.js';

/** The little of the page's DOM the callbacks below read (they run in the browser, not in Node). */
declare const document: {
  activeElement: { textContent: string | null; getAttribute(name: string): string | null } | null;
  getElementById(id: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { forEach(callback: (element: { remove(): void }) => void): void };
  documentElement: { scrollWidth: number; clientWidth: number };
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;
const OUTPUT = new URL('../../../../test-results/console/', import.meta.url).pathname;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const IDLE_MS = 900_000;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

describe('the web console in headless Chromium', { skip: process.env.CI === 'true' ? false : missing }, () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  let origin: string;
  const cspViolations: string[] = [];

  /** axe-core on the page as it is: no serious or critical violation. */
  async function checkAccessibility(name: string): Promise<void> {
    // Evaluated through the DevTools protocol, which the page's CSP does not govern (a script tag would be refused).
    await page.evaluate(AXE);
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
      return (await axe.run()).violations.map(({ id, impact, help, nodes }) => ({ id, impact, help, nodes: nodes.map((node) => ({ target: node.target })) }));
    });
    const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
    assert.deepEqual(serious, [], `${name}: ${JSON.stringify(serious, null, 2)}`);
  }

  async function shoot(name: string): Promise<void> {
    await page.screenshot({ path: join(OUTPUT, `console-${name}.png`), fullPage: true });
  }

  async function visit(path: string, name: string): Promise<void> {
    const response = await page.goto(`${origin}${CONSOLE}${path}`);
    assert.equal(response?.status(), 200, `${path}: ${response?.status()}`);
    await checkAccessibility(name);
    await shoot(name);
  }

  async function jwksKids(): Promise<string[]> {
    const body = (await (await fetch(`${origin}${BASE_PATH}/auth/certs`)).json()) as { keys: { kid: string }[] };
    return body.keys.map((key) => key.kid).sort();
  }

  async function signIn(name: string, password: string): Promise<void> {
    await page.goto(`${origin}${CONSOLE}/login`);
    await page.getByLabel('Administrator name').fill(name);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState();
  }

  before(async () => {
    // In CI a missing Chromium is a failure, not a skip: .ci/run installs it.
    assert.ok(!missing, String(missing));
    mkdirSync(OUTPUT, { recursive: true });
    h = await startHarness({ ...CONSOLE_ENV, HOST: '127.0.0.1', ANTPEER_ADMIN_SESSION_IDLE: String(IDLE_MS / 1000) }, { listen: true });
    await addTestAdministrator(h);
    origin = `http://127.0.0.1:${(h.server.app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // A fresh profile per launch (playwright's default): no state from an earlier run.
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it('the sign-in page refuses a wrong password and a client application’s credentials alike', async () => {
    const first = await page.goto(`${origin}${CONSOLE}/`);
    assert.equal(new URL(page.url()).pathname, `${CONSOLE}/login`, 'the console sends a stranger to sign in');
    assert.equal(first?.status(), 200);
    await checkAccessibility('login');
    await shoot('login');
    for (const [name, password] of [[ADMIN.name, 'not the password'], [CLIENT.username, CLIENT.password]] as const) {
      await signIn(name, password);
      assert.equal(await page.getByRole('alert').textContent(), SIGN_IN_REFUSED);
      assert.equal(new URL(page.url()).pathname, `${CONSOLE}/login`);
    }
  });

  it('an administrator signs in with the keyboard alone and sees the live dashboard', async () => {
    await page.goto(`${origin}${CONSOLE}/login`);
    // The name field has focus on arrival; Tab moves to the password, Enter submits.
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'name');
    await page.keyboard.type(ADMIN.name);
    await page.keyboard.press('Tab');
    await page.keyboard.type(ADMIN.password);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${origin}${CONSOLE}/`);
    assert.match((await page.locator('header .who').textContent()) ?? '', /Signed in as ops-alice/);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content', 'the first Tab stop skips the navigation');
    await h.login();
    await h.token({ username: CLIENT.username, password: 'wrong' });
    h.clock.advance(10_000);
    await page.reload();
    await page.locator('#grants-chart canvas').waitFor();
    await page.locator('#events-chart canvas').waitFor();
    await page.waitForFunction(() => /refusals: 1/.test(document.getElementById('event-totals')?.textContent ?? ''));
    // One good and one refused grant in the last 10 seconds (of the injected clock).
    await page.waitForFunction(() => /invalid_grant: 0\.1\/s.*ok: 0\.1\/s/.test(document.getElementById('grant-totals')?.textContent ?? ''));
    // Two minutes of traffic, 10 s at a time, for a chart worth a screenshot.
    let { refresh_token: live } = await h.login();
    for (let step = 0; step < 12; step++) {
      for (let index = 0; index < 2 + (step % 4); index++) live = (await h.refresh(live)).json<{ refresh_token: string }>().refresh_token;
      for (let index = 0; index < step % 3; index++) await h.token({ username: `guess-${step}-${index}`, password: 'guess' });
      h.clock.advance(10_000);
      assert.equal((await page.request.get(`${origin}${CONSOLE}/dashboard.json`)).status(), 200);
    }
    await page.reload();
    await page.locator('#grants-chart canvas').waitFor();
    await checkAccessibility('dashboard');
    await shoot('dashboard');
  });

  let appPassword = '';
  let refreshToken = '';
  let sessionId = '';

  it('adds a client application whose password then works at /auth/token', async () => {
    await visit('/applications', 'applications');
    await page.getByLabel('New client application').fill('browser-made');
    await page.getByRole('button', { name: 'Add' }).click();
    appPassword = (await page.locator('#generated-password').textContent()) ?? '';
    assert.ok(appPassword.length >= 16);
    await checkAccessibility('application-added');
    await shoot('application-added');
    const response = await fetch(`${origin}${BASE_PATH}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'browser-made', password: appPassword }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { refresh_token: string; session_state: string };
    refreshToken = body.refresh_token;
    sessionId = body.session_state;
  });

  it('revokes the live session, and its refresh token is refused', async () => {
    await visit('/sessions', 'sessions');
    await page.getByLabel('Client application').selectOption({ label: 'browser-made' });
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/application=/);
    const row = page.locator('tr', { hasText: sessionId });
    assert.equal(await row.count(), 1);
    await row.getByRole('link', { name: 'Revoke' }).click();
    await checkAccessibility('confirm');
    await shoot('confirm');
    await page.getByRole('button', { name: 'Revoke the session' }).click();
    assert.match((await page.getByRole('status').textContent()) ?? '', /was revoked/);
    const refused = await fetch(`${origin}${BASE_PATH}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { error_description: string }).error_description, 'Session not active');
  });

  it('sets the realm-wide not-before policy', async () => {
    await visit('/policy', 'policy');
    assert.equal(await page.locator('#realm-not-before').textContent(), 'never set');
    await page.getByRole('link', { name: /Set the realm-wide policy/ }).click();
    await page.getByRole('button', { name: 'Set it to now' }).click();
    assert.notEqual(await page.locator('#realm-not-before').textContent(), 'never set');
    assert.notEqual(await h.server.auth.store.settings.getRealmNotBefore(), 0);
  });

  it('rotates the signing key and the JWKS publishes the new one', async () => {
    const kidsBefore = await jwksKids();
    await visit('/keys', 'keys');
    await page.getByRole('link', { name: /Rotate the signing key/ }).click();
    await page.getByRole('button', { name: 'Rotate' }).click();
    assert.match((await page.getByRole('status').textContent()) ?? '', /new signing key was created/);
    const kidsAfter = await jwksKids();
    assert.equal(kidsAfter.length, kidsBefore.length + 1);
    const created = kidsAfter.find((kid) => !kidsBefore.includes(kid));
    assert.ok(created && (await page.locator('td', { hasText: created }).count()) === 1, 'the new key is listed');
  });

  it('filters the audit trail by kind', async () => {
    await visit('/audit', 'audit');
    await page.getByLabel('Kind').selectOption('key_rotated');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/kind=key_rotated/);
    const kinds = await page.locator('tbody tr td:nth-child(2)').allTextContents();
    assert.ok(kinds.length >= 1);
    assert.deepEqual([...new Set(kinds)], ['key_rotated']);
    assert.match((await page.locator('tbody').textContent()) ?? '', /by administrator "ops-alice" \(web console\)/);
    await checkAccessibility('audit-filtered');
    await shoot('audit-filtered');
  });

  it('a change whose form lost its CSRF token is refused and not made', async () => {
    await page.goto(`${origin}${CONSOLE}/applications`);
    await page.evaluate(() => document.querySelectorAll('form[aria-label="Add a client application"] input[name="_csrf"]').forEach((input) => input.remove()));
    await page.getByLabel('New client application').fill('no-csrf');
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: 'Add' }).click()]);
    assert.equal(response.status(), 403);
    assert.match((await page.getByRole('alert').textContent()) ?? '', /security token/);
    assert.equal(await h.server.auth.store.users.findByUsername('no-csrf'), null);
  });

  it('is readable at 360 px wide: no page scrolls sideways', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    for (const [path, name] of [['/', 'dashboard-360'], ['/applications', 'applications-360'], ['/audit', 'audit-360']] as const) {
      await visit(path, name);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${path} scrolls sideways by ${overflow}px at 360 px`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('an expired console session leads back to the sign-in page', async () => {
    h.clock.advance(IDLE_MS + 1);
    await page.goto(`${origin}${CONSOLE}/applications`);
    assert.equal(new URL(page.url()).pathname, `${CONSOLE}/login`);
    assert.match((await page.getByRole('alert').textContent()) ?? '', /session has ended/);
  });

  it('no page broke its Content Security Policy (the chart library included)', () => {
    assert.deepEqual(cspViolations, []);
  });
});
