import { html, page, raw, type Html } from '../html.ts';
import type { deadLettersOf } from '../../flows/dead-letters.ts';
import type { PaceSnapshot } from '../../pipedrive/pacing.ts';
import type { listForInstallation } from '../../flows/channel-lifecycle.ts';
import type { Installation } from '../../ground/records.ts';
import type { PlatformField, PlatformInfo } from './platforms.ts';
import { ADMIN_CSS } from './style.ts';

type ChannelRow = Awaited<ReturnType<typeof listForInstallation>>[number];
type DeadLetter = Awaited<ReturnType<typeof deadLettersOf>>[number];

export interface AdminView {
  installation: Installation;
  channels: ChannelRow[];
  deadLetters: DeadLetter[];
  pacing: PaceSnapshot;
  providers: PlatformInfo[];
  /** One clause per platform: how it learns a channel's webhook URL (`webhookHints(registry)`). */
  webhookHints: string[];
  appUrl: string;
  /**
   * Where the page's script sends its JSON calls (default /admin/api, with the session
   * cookie). A page embedding this one elsewhere (e.g. inside Pipedrive with a bearer token)
   * passes its own base and sets `window.bridgeAdmin.headers` before the script runs.
   */
  apiBase?: string;
}

/**
 * Where the page runs: standalone (/admin, session cookie) or inside Pipedrive as the app settings
 * page (/ui/settings): there settings.js gives admin.js bearer tokens from the Pipedrive SDK
 * (window.bridgeAdmin), the API base is /ui/api/settings, and the surface choice is shown.
 */
export interface AdminShell {
  /** `canEdit` false: a Pipedrive user who is not an admin sees the page read-only (the API enforces it too). */
  inPipedrive?: { theme: 'light' | 'dark'; canEdit: boolean; viewer: string };
}

/** The admin page: server-rendered and escaped; its script only sends JSON to the admin API. */
export function adminPage(v: AdminView, shell: AdminShell = {}): string {
  const inPd = shell.inPipedrive;
  const { installation: i, channels, providers, appUrl } = v;
  // Writes are for Pipedrive admins: the viewer inside Pipedrive, the installing user standalone.
  const canEdit = inPd ? inPd.canEdit : i.isAdmin;
  const available = providers.filter((p) => p.available);
  return page(
    'Pipedrive bridge — admin',
    html`<div id="admin" data-api-base="${v.apiBase ?? (inPd ? '/ui/api/settings' : '/admin/api')}">
<h1>Pipedrive messaging bridge</h1>
<p>Signed in as <strong>${inPd ? inPd.viewer : (i.userName ?? `user ${i.userId}`)}</strong>${!inPd && i.userEmail ? html` (${i.userEmail})` : ''} of
<strong>${i.companyName ?? `company ${i.companyId}`}</strong>${canEdit ? ' — Pipedrive admin' : ''}.</p>
${inPd ? '' : html`<form method="post" action="/admin/logout"><button type="submit" id="sign-out">Sign out</button></form>`}
${statusBanner(i)}
${canEdit ? '' : html`<p class="banner warn" id="read-only">${inPd ? html`You are signed in as ${inPd.viewer}. ` : 'Read-only: '}Only Pipedrive admins of your company can connect, edit or delete channels and replay dead letters.</p>`}
<div id="flash" role="status" aria-live="polite" tabindex="-1"></div>
${
  inPd
    ? html`<h2>Where conversations appear</h2>
<div id="surface" class="surface" data-loading="true"><p class="hint">Loading…</p></div>`
    : ''
}
<h2>Channels</h2>
${channels.length ? channelTable(channels, providers, canEdit) : html`<p id="no-channels">No channels yet.${canEdit ? ' Connect one below.' : ''}</p>`}
<h2>Delivery</h2>
${figuresList(channels, v.pacing)}
<h2>Dead letters</h2>
${deadLetterTable(v.deadLetters, canEdit)}
<h2 id="form-title" data-connect-title="Connect a channel">Connect a channel</h2>
${!canEdit ? (inPd ? html`<p class="hint">A Pipedrive admin connects channels here.</p>` : '') : available.length ? connectForm(available) : html`<p class="banner warn">No platform adapter is available in this build.</p>`}
<h2>Pipedrive</h2>
<p>Manifest for Pipedrive's Developer Hub: ${copyable(`${appUrl}/manifest.json`, 'Copy the manifest URL')}</p>
<p class="hint">Each channel's webhook or callback URL is in the channel list, with a Copy button.${v.webhookHints.length ? ` ${sentence(v.webhookHints.join(';\n'))}.` : ''}</p>
${
  inPd
    ? ''
    : html`<h2>Installation</h2>
<p><button type="button" id="uninstall">Uninstall from Pipedrive</button> <span class="hint">Revokes this app's access for your user and disconnects your channels.</span></p>`
}
</div>`,
    inPd
      ? {
          theme: inPd.theme,
          style: ADMIN_CSS,
          head: html`<link rel="stylesheet" href="/ui/assets/workspace.css">`,
          scripts: ['/ui/assets/sdk.js', '/ui/assets/core.js', '/ui/assets/settings.js', '/admin/assets/admin.js'],
        }
      : { script: '/admin/assets/admin.js', style: ADMIN_CSS },
  );
}

/** A URL with a copy button; the text stays selectable for browsers without clipboard access. */
function copyable(url: string, label: string): Html {
  return html`<span class="copyable"><code>${url}</code> <button type="button" class="copy" data-copy="${url}" aria-label="${label}">Copy</button></span>`;
}

/** This installation's own figures only: the page never shows other companies' traffic (/metrics is the operator's view). */
function figuresList(channels: ChannelRow[], pace: PaceSnapshot): Html {
  const waiting = channels.reduce((n, c) => n + c.backlog.pending, 0);
  const dead = channels.reduce((n, c) => n + c.backlog.dead, 0);
  return html`<ul id="figures" class="figures">
<li>Outbox: <strong>${String(waiting)}</strong> ${waiting === 1 ? 'delivery' : 'deliveries'} waiting, <strong>${String(dead)}</strong> ${dead === 1 ? 'dead letter' : 'dead letters'}</li>
<li id="pacing">Pipedrive: ${pace.parkedUntil ? html`<strong>daily budget spent</strong>, deliveries parked until ${new Date(pace.parkedUntil).toISOString()}` : 'within its API budget'}; circuit ${pace.breaker}; ${String(pace.limit)} calls per 2 s window</li>
</ul>`;
}

/** Write buttons are disabled for users without Pipedrive admin rights (the API refuses them anyway). */
const off = (canWrite: boolean) => raw(canWrite ? '' : ' disabled');

function deadLetterTable(rows: DeadLetter[], canWrite: boolean): Html {
  if (!rows.length) return html`<p id="no-dead-letters">No dead letters: everything was delivered or is still being retried.</p>`;
  return html`<p><button type="button" id="replay-all"${off(canWrite)}>Replay all (${rows.length})</button> <span class="hint">Puts them back in the outbox with a fresh retry budget.</span></p>
<table id="dead-letters" class="cards"><thead><tr><th>Channel</th><th>Message</th><th>What went wrong</th><th>What to do</th><th>Failed</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>
${rows.map((d) => {
  const what = d.message_text !== null ? d.message_text || '(attachments only)' : describeKind(d.kind);
  return html`<tr data-dead-letter-id="${String(d.id)}"><td data-label="Channel">${d.channel_name ?? '(deleted channel)'}</td>
<td data-label="Message" class="message-text">${what}</td>
<td data-label="What went wrong">${d.problem}</td>
<td data-label="What to do">${d.action}</td>
<td data-label="Failed"><time datetime="${d.failed_at}">${d.failed_at.replace('T', ' ').slice(0, 16)} UTC</time><br><span class="hint">after ${String(d.attempts)} ${d.attempts === 1 ? 'attempt' : 'attempts'}</span></td>
<td class="actions"><button type="button" class="replay" data-id="${String(d.id)}" aria-label="${`Replay: ${shorten(what, 60)} (${d.channel_name ?? 'deleted channel'})`}"${off(canWrite)}>Replay</button></td></tr>`;
})}
</tbody></table>`;
}

const describeKind = (kind: string) =>
  kind === 'platform.disconnect' ? '(removing a deleted channel on its platform)' : kind === 'pipedrive.receive' ? '(a message on its way to Pipedrive)' : '(a delivery to the platform)';
const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const shorten = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

function statusBanner(i: Installation): Html {
  if (i.status === 'needs_reinstall') {
    return html`<p class="banner err" id="needs-reinstall"><strong>Needs reinstall:</strong> the Pipedrive authorization lapsed, so messages cannot reach Pipedrive.
<a href="/auth/pipedrive">Install the app again</a>.</p>`;
  }
  return html`<p class="banner ok" id="installation-status">Installation active.</p>`;
}

const URL_LABELS: Record<string, string> = { webhook_url: 'Webhook URL', callback_url: 'Callback URL' };
const readable = (key: string) => URL_LABELS[key] ?? key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

/** Each distinct URL once (a platform may know the webhook URL under another name too: the same address). */
function channelUrls(c: ChannelRow): Html[] {
  const byUrl = new Map<string, string[]>();
  for (const [key, url] of Object.entries(c.urls)) byUrl.set(url, [...(byUrl.get(url) ?? []), readable(key)]);
  return [...byUrl].map(([url, labels]) => {
    const label = labels.join(' / ').replace('Webhook URL / Callback URL', 'Webhook / callback URL');
    return html`<div class="url"><span class="hint">${label}</span><br>${copyable(url, `Copy the ${label.toLowerCase()} of ${c.name}`)}</div>`;
  });
}

function channelTable(channels: ChannelRow[], providers: PlatformInfo[], canWrite: boolean): Html {
  const editable = new Set(providers.filter((p) => p.available).map((p) => p.kind));
  return html`<table id="channels" class="cards"><thead><tr><th>Name</th><th>Platform</th><th>Status</th><th>Conversations</th><th>Outbox</th><th>URLs</th><th><span class="sr-only">Actions</span></th></tr></thead><tbody>
${channels.map(
  (c) => html`<tr data-channel-id="${c.id}"><td data-label="Name">${c.avatar_url ? html`<img src="${c.avatar_url}" alt="" width="20" height="20"> ` : ''}<strong>${c.name}</strong></td>
<td data-label="Platform">${c.provider_name}</td>
<td data-label="Status">${c.status === 'active' ? 'Active' : c.status}${c.backlog.dead ? html`<br><span class="hint">Some messages were not delivered: see Dead letters.</span>` : c.last_error ? html`<br><span class="hint">Last problem: ${c.last_error.replace(/\bHTTP (\d{3}) .*/s, 'HTTP $1')}</span>` : ''}</td>
<td data-label="Conversations">${c.conversations}</td>
<td data-label="Outbox">${c.backlog.pending} waiting, ${c.backlog.dead} dead</td>
<td data-label="URLs">${channelUrls(c)}</td>
<td class="actions">${editable.has(c.provider) ? html`<button type="button" class="edit" data-id="${c.id}" data-name="${c.name}" data-provider="${c.provider}" data-avatar="${c.avatar_url ?? ''}" data-settings="${JSON.stringify(c.settings)}" aria-label="${`Edit channel ${c.name}`}"${off(canWrite)}>Edit</button> ` : ''}<button type="button" class="delete danger" data-id="${c.id}" data-name="${c.name}" aria-label="${`Delete channel ${c.name}`}"${off(canWrite)}>Delete</button></td></tr>`,
)}
</tbody></table>`;
}

function fieldInput(p: PlatformInfo, f: PlatformField): Html {
  const id = `cfg-${p.kind}-${f.name}`;
  const described = raw(`aria-describedby="${id}-hint ${id}-err"`);
  const placeholder = f.placeholder ?? '';
  if (f.type === 'list') return html`<textarea id="${id}" data-field="${f.name}" data-type="list" rows="5" placeholder="${placeholder}" ${described}></textarea>`;
  if (f.type === 'boolean') return html`<input type="checkbox" id="${id}" data-field="${f.name}" data-type="boolean" ${described}>`;
  const type = f.type === 'secret' ? 'password' : f.type === 'number' ? 'number' : 'text';
  return html`<input type="${type}" id="${id}" data-field="${f.name}" data-type="${f.type}" placeholder="${placeholder}" autocomplete="${f.type === 'secret' ? 'new-password' : 'off'}" spellcheck="false"${raw(f.required ? ' required aria-required="true"' : '')} ${described}>`;
}

/** A label, the hint (what it is, where to find it), the input, and a place for its error. */
function field(errorFor: string, id: string, label: string, required: boolean, input: Html, hint: string | null): Html {
  return html`<div class="field" data-error-for="${errorFor}">
<label for="${id}">${label}${required ? '' : html` <span class="hint">(optional)</span>`}</label>
${hint ? html`<div class="hint" id="${id}-hint">${hint}</div>` : html`<span id="${id}-hint" hidden></span>`}
${input}
<p class="field-error" id="${id}-err" hidden></p>
</div>`;
}

function connectForm(providers: PlatformInfo[]): Html {
  return html`<form id="connect" novalidate data-mode="connect">
${field('provider', 'provider', 'Platform', true, html`<select id="provider" name="provider">${providers.map((p) => html`<option value="${p.kind}">${p.name}</option>`)}</select>`, null)}
${field('name', 'name', 'Channel name', true, html`<input type="text" id="name" name="name" required aria-required="true" maxlength="255" placeholder="e.g. Support chat" aria-describedby="name-hint name-err">`, 'How the channel is called in Pipedrive and on the platform.')}
${field('avatar_url', 'avatar_url', 'Avatar URL', false, html`<input type="url" id="avatar_url" name="avatar_url" placeholder="https://example.com/logo.png" aria-describedby="avatar_url-hint avatar_url-err">`, 'A square picture (48×48 PNG or JPG) shown next to the channel in Pipedrive.')}
${providers.map(
  (p) => html`<fieldset class="provider-fields" data-provider="${p.kind}"><legend>${p.name} settings</legend>
<p class="hint edit-only">Secret fields are not shown again: leave them empty to keep the current value.</p>
${p.fields.map((f) => field(`config.${f.name}`, `cfg-${p.kind}-${f.name}`, f.label, f.required, fieldInput(p, f), f.hint))}
</fieldset>`,
)}
<div class="connect-only">
${field('templates', 'templates', 'Templates', false, html`<textarea id="templates" name="templates" placeholder="greet | Greeting | en | Hello {{1}}" aria-describedby="templates-hint templates-err"></textarea>`, 'Message templates Pipedrive users can pick, one per line: id | name | language | content.')}
</div>
<div id="form-errors" class="banner err" role="alert" tabindex="-1" hidden></div>
<div class="buttons"><button type="submit" id="connect-button" data-connect-label="Connect channel">Connect channel</button>
<button type="button" id="cancel-edit" class="edit-only secondary">Cancel</button></div>
</form>`;
}
