import { html, type Html } from './html.js';

/** The console's sections, in navigation order: path under the console, and label. */
export const SECTIONS = [
  ['/', 'Dashboard'],
  ['/applications', 'Client applications'],
  ['/sessions', 'Sessions'],
  ['/policy', 'Not-before policy'],
  ['/keys', 'Signing keys'],
  ['/audit', 'Audit trail'],
] as const;

/** What every page of a signed-in administrator carries. */
export interface PageContext {
  /** The console's path prefix, e.g. `/admin`. */
  base: string;
  adminName: string;
  csrfToken: string;
  /** The section path this page belongs to (`/applications`). */
  section: string;
}

/** The hidden field every change form carries. */
export function csrfField(context: Pick<PageContext, 'csrfToken'>): Html {
  return html`<input type="hidden" name="_csrf" value="${context.csrfToken}">`;
}

function document(title: string, header: Html | null, body: Html, base: string, scripts: readonly string[]): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · AntPeer Auth console</title>
<link rel="stylesheet" href="${base}/assets/console.css">
${scripts.includes('dashboard') ? html`<link rel="stylesheet" href="${base}/assets/uPlot.min.css">` : null}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${header}
<main id="main" tabindex="-1">
${body}
</main>
${scripts.map((name) => (name === 'dashboard' ? html`<script src="${base}/assets/uPlot.iife.min.js" defer></script><script src="${base}/assets/dashboard.js" defer></script>` : null))}
</body>
</html>`;
}

/** A page of the signed-in console: header with navigation and sign-out, then `body`. */
export function page(context: PageContext, title: string, body: Html, options: { scripts?: readonly string[]; notice?: string | null } = {}): Html {
  const header = html`<header>
<a class="brand" href="${context.base}/">AntPeer Auth</a>
<nav aria-label="Console sections"><ul>
${SECTIONS.map(
  ([path, label]) =>
    html`<li><a href="${context.base}${path}"${context.section === path ? html` aria-current="page"` : null}>${label}</a></li>`,
)}
</ul></nav>
<span class="who">Signed in as <strong>${context.adminName}</strong></span>
<form method="post" action="${context.base}/logout">${csrfField(context)}<button type="submit">Sign out</button></form>
</header>`;
  const notice = options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : null;
  return document(title, header, html`<h1>${title}</h1>${notice}${body}`, context.base, options.scripts ?? []);
}

/** A page outside a session (sign-in, errors before sign-in). */
export function plainPage(base: string, title: string, body: Html): Html {
  return document(title, null, body, base, []);
}

/**
 * A confirmation step for a change that cannot be undone: says what will happen, and only its
 * own form (POST, with the CSRF token) makes the change.
 */
export function confirmPage(
  context: PageContext,
  options: { title: string; message: Html | string; action: string; button: string; fields?: Record<string, string>; cancel: string },
): Html {
  return page(
    context,
    options.title,
    html`<p>${options.message}</p>
<p><strong>This cannot be undone.</strong></p>
<form method="post" action="${options.action}" class="inline">
${csrfField(context)}
${Object.entries(options.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<button type="submit" class="danger">${options.button}</button>
<a class="button secondary" href="${options.cancel}">Cancel</a>
</form>`,
  );
}

/** A time as ISO 8601 in UTC, or a dash. */
export function time(ms: number | null): string {
  return ms === null || ms === 0 ? '—' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** A duration in a compact human form: `3d 4h`, `12m`, `40s`. */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const units: [number, string][] = [[86_400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
  const parts: string[] = [];
  let rest = seconds;
  for (const [size, unit] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.length === 0 ? '0s' : parts.join(' ');
}
