import type { Config } from '../../ground/config.ts';
import { html, type Html } from '../html.ts';
import { ASSET_BASE } from './assets.ts';

export const RECORD_TYPES = ['deal', 'person', 'organization'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/**
 * Headers of the pages Pipedrive frames. Unlike every other page (X-Frame-Options: DENY,
 * frame-ancestors 'none'), these may be framed by Pipedrive's web app and the configured extra
 * origins; no X-Frame-Options, since it cannot express an allow-list and would win in old browsers.
 * No referrer either: the URL carries Pipedrive's token.
 */
export function framedPageHeaders(config: Config, opts: { inlineStyle?: boolean } = {}): Record<string, string> {
  const ancestors = ["'self'", 'https://*.pipedrive.com', ...config.ui.frameAncestors].join(' ');
  // The settings page reuses the admin page, whose stylesheet is inline.
  const style = opts.inlineStyle ? "'self' 'unsafe-inline'" : "'self'";
  return {
    'Content-Security-Policy': `default-src 'none'; script-src 'self'; style-src ${style}; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors ${ancestors}`,
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  };
}

function document(title: string, theme: 'light' | 'dark', bodyAttrs: Html, body: Html, scripts: string[] = ['core.js', 'workspace.js']): string {
  return html`<!doctype html>
<html lang="en" data-theme="${theme}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><link rel="stylesheet" href="${ASSET_BASE}/workspace.css">
<script src="${ASSET_BASE}/sdk.js" defer></script>${scripts.map((s) => html`<script src="${s.startsWith('/') ? s : `${ASSET_BASE}/${s}`}" defer></script>`)}</head>
<body ${bodyAttrs}>${body}</body></html>`.value;
}

export interface ShellOptions {
  surface: 'inbox' | 'panel';
  theme: 'light' | 'dark';
  companyName: string | null;
  record?: { type: RecordType; id: number };
}

/**
 * The floating window and the record panel share one client (workspace.js); the server renders
 * only the frame and what the URL says, the script fills it from /ui/api.
 */
export function workspaceShell(o: ShellOptions): string {
  const attrs = html`data-surface="${o.surface}"${o.record ? html` data-record-type="${o.record.type}" data-record-id="${String(o.record.id)}"` : ''}`;
  return document(
    o.surface === 'panel' ? 'Conversations' : 'Messages',
    o.theme,
    attrs,
    html`<div id="app" class="app ${o.surface}">
<header class="bar"><button type="button" id="back" class="icon" hidden aria-label="Back to conversations">‹</button>
<h1 id="title">${o.surface === 'panel' ? 'Conversations' : 'Messages'}</h1><span id="total" class="badge" hidden></span>
${o.surface === 'panel' ? html`<button type="button" id="start" class="primary small" hidden>New conversation</button>` : ''}</header>
<div id="status" class="status" role="status" aria-live="polite">Connecting to Pipedrive…</div>
<div class="panes">
<section id="list-pane" class="list-pane" aria-label="Conversations">
${o.surface === 'inbox' ? html`<nav id="channels" class="channels" aria-label="Channels"></nav>` : html`<div id="start-menu" class="start-menu" hidden></div>`}
<ul id="conversations" class="conversations"></ul>
<div id="empty" class="empty" hidden></div>
</section>
<section id="thread-pane" class="thread-pane" aria-label="Conversation" hidden>
<div id="thread-head" class="thread-head"></div>
<div id="messages" class="messages" tabindex="0"></div>
<form id="composer" class="composer" autocomplete="off">
<div id="picked" class="picked"></div>
<div class="compose-row">
<label class="icon attach" title="Attach files"><input type="file" id="files" multiple hidden><svg class="ico" viewBox="0 0 24 24" aria-hidden="true"><path d="M21 11.5l-8.6 8.6a5 5 0 0 1-7-7l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9"/></svg><span class="sr">Attach files</span></label>
<textarea id="text" rows="1" placeholder="Write a message" aria-label="Message"></textarea>
<button type="submit" id="send" class="primary">Send</button>
</div>
</form>
</section>
</div>
</div>`,
  );
}

/** A page with one message (bad token, unsupported record) that still initializes the SDK, so Pipedrive shows it. */
export function noticeShell(title: string, text: string, extra: Html = html``): string {
  return document(title, 'light', html`data-surface="notice"`, html`<main class="notice"><h1>${title}</h1><p>${text}</p>${extra}</main>`);
}

/** The company has not installed the app: OAuth must run in a top-level tab (Pipedrive's consent page cannot be framed). */
export function installShell(appUrl: string): string {
  return noticeShell(
    'Install the messaging bridge',
    'Your Pipedrive company has not installed this app yet (or its installation was removed). Install it once, then reopen this window.',
    html`<p><a class="button primary" id="install" href="${appUrl}/auth/pipedrive" target="_blank" rel="noopener">Install in Pipedrive</a></p>`,
  );
}
