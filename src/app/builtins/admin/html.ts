/**
 * The dashboard's HTML: every value goes through `esc` (or `html` templates, which escape what
 * they interpolate unless it is already `Html`), so a job name or an error message carrying
 * markup renders as text. No inline scripts or styles attributes that CSP would have to allow:
 * the stylesheet is a static file (`/admin/static/admin.css`).
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

type Part = Html | string | number | null | undefined | boolean | readonly Part[];

function render(part: Part): string {
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return (part as readonly Part[]).map(render).join('');
  if (part === null || part === undefined || part === false || part === true) return '';
  return esc(part);
}

/** A template whose interpolations are escaped (arrays joined, `Html` kept as is). */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0]!;
  parts.forEach((part, i) => (out += render(part) + strings[i + 1]!));
  return new Html(out);
}

/** Epoch ms as `2026-12-02 23:51:53Z`, or '–'. */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) return '–';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** A duration in s/min/h/d, signed. */
export function span(ms: number): string {
  const sign = ms < 0 ? '−' : '';
  const s = Math.abs(ms) / 1000;
  if (s < 120) return `${sign}${Math.round(s)} s`;
  if (s < 7200) return `${sign}${Math.round(s / 60)} min`;
  if (s < 172_800) return `${sign}${Math.round(s / 3600)} h`;
  return `${sign}${(s / 86_400).toFixed(1)} d`;
}

export const PAGES = [
  ['portals', 'Portals'],
  ['queue', 'Queue'],
  ['events', 'Events'],
  ['limits', 'Limits'],
  ['plugins', 'Plugins'],
] as const;
export type PageName = (typeof PAGES)[number][0];

/** A whole page: the navigation, the logout form (with the CSRF token) and the body. */
export function layout(title: string, current: PageName | undefined, csrf: string | undefined, body: Html): string {
  const nav = csrf
    ? html`<nav>${PAGES.map(([name, label]) => html`<a href="/admin/${name}"${name === current ? new Html(' aria-current="page"') : ''}>${label}</a>`)}
<form method="post" action="/admin/logout" class="logout"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Log out</button></form></nav>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · b24kit admin</title><link rel="stylesheet" href="/admin/static/admin.css"></head>
<body><header><strong>b24kit admin</strong>${render(nav)}</header><main><h1>${esc(title)}</h1>${body.value}</main></body></html>`;
}

/** A form posting one action, with the CSRF token and hidden fields. */
export function actionForm(action: string, csrf: string, fields: Record<string, string | number>, label: string, confirmClass = ''): Html {
  return html`<form method="post" action="${action}" class="inline"><input type="hidden" name="csrf" value="${csrf}">${Object.entries(fields).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  )}<button type="submit" class="${confirmClass}">${label}</button></form>`;
}
