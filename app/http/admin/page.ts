import { html, page, raw, type Html } from '../html.ts';
import type { deadLettersOf } from '../../inbox/dead-letters.ts';
import type { PaceSnapshot } from '../../pipedrive/pacing.ts';
import type { listForInstallation } from '../../pipedrive/channels.ts';
import type { Installation } from '../../store/installations.ts';
import type { ProviderInfo } from './providers.ts';

type ChannelRow = Awaited<ReturnType<typeof listForInstallation>>[number];
type DeadLetter = Awaited<ReturnType<typeof deadLettersOf>>[number];

export interface AdminView {
  installation: Installation;
  channels: ChannelRow[];
  deadLetters: DeadLetter[];
  pacing: PaceSnapshot;
  providers: ProviderInfo[];
  appUrl: string;
}

/**
 * Where the page runs: standalone (/admin, session cookie) or inside Pipedrive as the app settings
 * page (/ui/settings): there settings.js gives admin.js the /ui/api/settings base and bearer tokens
 * from the Pipedrive SDK, and the surface choice is shown.
 */
export interface AdminShell {
  /** `canEdit` false: a Pipedrive user who is not an admin sees the page read-only (the API enforces it too). */
  inPipedrive?: { theme: 'light' | 'dark'; canEdit: boolean; viewer: string };
}

/** The admin page: server-rendered and escaped; its script only posts JSON to its API. */
export function adminPage(v: AdminView, shell: AdminShell = {}): string {
  const inPd = shell.inPipedrive;
  const { installation: i, channels, providers, appUrl } = v;
  // Writes are for Pipedrive admins: the viewer inside Pipedrive, the installing user standalone.
  const canEdit = inPd ? inPd.canEdit : i.isAdmin;
  const available = providers.filter((p) => p.available);
  return page(
    'Pipedrive bridge — admin',
    html`<h1>Pipedrive messaging bridge</h1>
<p>Signed in as <strong>${i.userName ?? `user ${i.userId}`}</strong>${i.userEmail ? html` (${i.userEmail})` : ''} of
<strong>${i.companyName ?? `company ${i.companyId}`}</strong>${i.isAdmin ? ' — Pipedrive admin' : ''}.</p>
<form method="post" action="/admin/logout"><button type="submit" id="sign-out">Sign out</button></form>
${statusBanner(i)}
${inPd || i.isAdmin ? '' : html`<p class="banner warn" id="read-only">Read-only: only Pipedrive admins of your company can connect or delete channels and replay dead letters.</p>`}
<div id="flash" role="status" aria-live="polite"></div>
${inPd ? html`<h2>Where conversations appear</h2>
<div id="surface" class="surface" data-loading="true"><p class="hint">Loading…</p></div>` : ''}
<h2>Channels</h2>
${inPd && !canEdit ? html`<p class="banner warn" id="read-only">You are signed in as ${inPd.viewer}. Only Pipedrive admins of your company can connect or delete channels.</p>` : ''}
${channels.length ? channelTable(channels, canEdit) : html`<p id="no-channels">No channels yet.${canEdit ? ' Connect one below.' : ''}</p>`}
<h2>Delivery</h2>
${figuresList(channels, v.pacing)}
<h2>Dead letters</h2>
${deadLetterTable(v.deadLetters, canEdit)}
<h2>Connect a channel</h2>
${!canEdit ? (inPd ? html`<p class="hint">A Pipedrive admin connects channels here.</p>` : '') : available.length ? connectForm(available) : html`<p class="banner warn">No platform adapter is available in this build.</p>`}
<p class="hint">Platforms: ${providers.map((p, n) => html`${n ? ', ' : ''}${p.name} ${p.available ? '(available)' : '(not available in this build yet)'}`)}.</p>
<h2>URLs for the platforms</h2>
<ul class="hint">
<li>Each channel's <strong>webhook / callback URL</strong> is listed in the table above (<code>${appUrl}/webhooks/&lt;provider&gt;/&lt;channel id&gt;</code>).
Airy's action endpoint is registered automatically; for Alvaria paste the channel's callback URL into the custom server application.</li>
<li>Alvaria signs its callbacks: paste Alvaria's <strong>public key</strong> (PEM) into the <code>callback_public_keys</code> field when connecting.</li>
<li>Pipedrive manifest: <code>${appUrl}/manifest.json</code>.</li>
</ul>
${inPd ? '' : html`<h2>Installation</h2>
<p><button type="button" id="uninstall">Uninstall from Pipedrive</button> <span class="hint">Revokes this app's access for your user and disconnects your channels.</span></p>`}`,
    inPd
      ? { theme: inPd.theme, head: html`<link rel="stylesheet" href="/ui/assets/workspace.css">`, scripts: ['/ui/assets/sdk.js', '/ui/assets/core.js', '/ui/assets/settings.js', '/admin/assets/admin.js'] }
      : { script: '/admin/assets/admin.js' },
  );
}

/** This installation's own figures only: the page never shows other companies' traffic (/metrics is the operator's view). */
function figuresList(channels: ChannelRow[], pace: PaceSnapshot): Html {
  const waiting = channels.reduce((n, c) => n + c.backlog.pending, 0);
  const dead = channels.reduce((n, c) => n + c.backlog.dead, 0);
  return html`<ul id="figures" class="figures">
<li>Outbox: <strong>${String(waiting)}</strong> deliveries waiting, <strong>${String(dead)}</strong> dead letters</li>
<li id="pacing">Pipedrive: ${pace.parkedUntil ? html`<strong>daily budget spent</strong>, deliveries parked until ${new Date(pace.parkedUntil).toISOString()}` : 'within its API budget'}; circuit ${pace.breaker}; ${String(pace.limit)} calls per 2 s window</li>
</ul>`;
}

/** Write buttons are disabled for users without Pipedrive admin rights (the API refuses them anyway). */
const off = (canWrite: boolean) => raw(canWrite ? '' : ' disabled');

function deadLetterTable(rows: DeadLetter[], canWrite: boolean): Html {
  if (!rows.length) return html`<p id="no-dead-letters">No dead letters: everything was delivered or is still being retried.</p>`;
  return html`<p><button type="button" id="replay-all"${off(canWrite)}>Replay all (${rows.length})</button> <span class="hint">Puts them back in the outbox with a fresh retry budget.</span></p>
<table id="dead-letters"><thead><tr><th>Job</th><th>Channel</th><th>What</th><th>Reason</th><th>Attempts</th><th>Failed at</th><th></th></tr></thead><tbody>
${rows.map(
  (d) => html`<tr data-dead-letter-id="${String(d.id)}"><td>${String(d.id)}<br><code class="hint">${d.kind}</code></td><td>${d.channel_name ?? d.channel_id}</td>
<td>${d.summary}</td><td>${d.reason ?? '—'}</td><td>${String(d.attempts)}</td><td>${d.failed_at}</td>
<td><button type="button" class="replay" data-id="${String(d.id)}"${off(canWrite)}>Replay</button></td></tr>`,
)}
</tbody></table>`;
}

function statusBanner(i: Installation): Html {
  if (i.status === 'needs_reinstall') {
    return html`<p class="banner err" id="needs-reinstall"><strong>Needs reinstall:</strong> the Pipedrive authorization lapsed, so messages cannot reach Pipedrive.
<a href="/auth/pipedrive">Install the app again</a>.${i.lastError ? html`<br><span class="hint">${i.lastError}</span>` : ''}</p>`;
  }
  return html`<p class="banner ok" id="installation-status">Installation active.</p>`;
}

function channelTable(channels: ChannelRow[], canWrite: boolean): Html {
  return html`<table id="channels"><thead><tr><th>Name</th><th>Provider</th><th>Status</th><th>Conversations</th><th>Outbox backlog</th><th>Last error</th><th>URLs</th><th></th></tr></thead><tbody>
${channels.map(
  (c) => html`<tr data-channel-id="${c.id}"><td>${c.avatar_url ? html`<img src="${c.avatar_url}" alt="" width="20" height="20"> ` : ''}${c.name}<br><code class="hint">${c.provider_channel_id}</code></td>
<td>${c.provider_name}</td><td>${c.status}</td><td>${c.conversations}</td><td>${c.backlog.pending} pending, ${c.backlog.dead} dead</td>
<td>${c.last_error ?? '—'}</td><td>${Object.entries(c.urls).map(([k, v]) => html`${k}: <code>${v}</code><br>`)}</td>
<td><button type="button" class="delete" data-id="${c.id}" data-name="${c.name}"${off(canWrite)}>Delete</button></td></tr>`,
)}
</tbody></table>`;
}

function connectForm(providers: ProviderInfo[]): Html {
  return html`<form id="connect" novalidate>
<label for="provider">Platform</label>
<select id="provider" name="provider">${providers.map((p) => html`<option value="${p.kind}">${p.name}</option>`)}</select>
<label for="name">Channel name</label><input type="text" id="name" name="name" required maxlength="255">
<label for="avatar_url">Avatar URL <span class="hint">(optional, 48×48 PNG/JPG)</span></label><input type="url" id="avatar_url" name="avatar_url">
${providers.map(
  (p) => html`<fieldset class="provider-fields" data-provider="${p.kind}"><legend>${p.name} settings</legend>
${p.fields.map((f) => {
  const id = `cfg-${p.kind}-${f.name}`;
  const input =
    f.type === 'list'
      ? html`<textarea id="${id}" data-field="${f.name}" data-type="list" placeholder="one per line (PEM keys: paste each block)"></textarea>`
      : f.type === 'boolean'
        ? html`<input type="checkbox" id="${id}" data-field="${f.name}" data-type="boolean">`
        : html`<input type="${f.type === 'secret' ? 'password' : f.type === 'number' ? 'number' : 'text'}" id="${id}" data-field="${f.name}" data-type="${f.type}" autocomplete="off"${raw(f.required ? ' required' : '')}>`;
  return html`<label for="${id}">${f.name}${f.required ? '' : html` <span class="hint">(optional)</span>`}</label>${input}${f.description ? html`<div class="hint">${f.description}</div>` : ''}`;
})}
</fieldset>`,
)}
<label for="templates">Templates <span class="hint">(optional; one per line: <code>id | name | language | content</code>)</span></label>
<textarea id="templates" name="templates"></textarea>
<button type="submit" id="connect-button">Connect channel</button>
</form>`;
}
