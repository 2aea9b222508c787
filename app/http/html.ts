/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A tagged template that escapes every interpolation unless it is already `Html` (built by
 * this tag or `raw`). Arrays are joined, so rows can be mapped in place.
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export const raw = (s: string) => new Html(s);

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

/** Security headers for every page we render: no framing, no inline script, no referrer leaks. */
export const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f23;background:#f6f7f9}
main{max-width:980px;margin:0 auto;padding:24px}h1{font-size:22px}h2{font-size:18px;margin-top:32px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #dde1e6;padding:6px 8px;text-align:left;vertical-align:top}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0}.warn{background:#fff4d6;border:1px solid #e8c25b}.err{background:#fde8e8;border:1px solid #e59a9a}.ok{background:#e6f6ea;border:1px solid #8cc79c}
form{background:#fff;border:1px solid #dde1e6;padding:16px;border-radius:6px}label{display:block;margin:10px 0 4px;font-weight:600}
input[type=text],input[type=url],input[type=password],input[type=number],select,textarea{width:100%;box-sizing:border-box;padding:6px;font:inherit}
textarea{min-height:70px;font-family:ui-monospace,monospace}.hint{color:#5b636b;font-size:13px}code{background:#eef0f3;padding:1px 4px;border-radius:3px;word-break:break-all}
button{margin-top:14px;padding:7px 14px;font:inherit;cursor:pointer}`;

export function page(title: string, body: Html, opts: { script?: string; scripts?: string[]; style?: string; head?: Html; theme?: 'light' | 'dark' } = {}): string {
  const scripts = [...(opts.scripts ?? []), ...(opts.script ? [opts.script] : [])];
  return html`<!doctype html>
<html lang="en"${opts.theme ? html` data-theme="${opts.theme}"` : ''}><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>${raw(STYLE)}${raw(opts.style ?? '')}</style>${opts.head ?? ''}${scripts.map((src) => html`<script src="${src}" defer></script>`)}</head>
<body><main>${body}</main></body></html>`.value;
}

export function errorPage(status: number, message: string): string {
  return page(
    status === 401 ? 'Sign in required' : 'Something went wrong',
    html`<h1>${status === 401 ? 'Sign in required' : `Error ${status}`}</h1><p class="banner err">${message}</p>
<p><a href="/auth/pipedrive">Install or sign in with Pipedrive</a></p>`,
  );
}
