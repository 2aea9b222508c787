import { randomUUID } from 'node:crypto';
import type { Req, Res } from './http.ts';
import type { FakeEmitter, FakeState, HostSurface, SdkRecord } from './state.ts';
export type { HostSurface, SdkRecord };
import { mintUiToken } from './ui-token.ts';

/**
 * A fake of Pipedrive's web app around custom UI extensions: pages that embed the app's iframes
 * with the documented query (userId, companyId, token, id; panels add resource, view and
 * selectedIds; theme) and answer the @pipedrive/app-extensions-sdk protocol the way the host does.
 *
 * The protocol, as read from the installed package (dist/index.js): the SDK posts
 * `{id, payload}` to window.parent with a MessageChannel port; `payload.type` is
 * - `command` (`payload.command`, `payload.args`): the host answers on the port with `{data}` or `{error}`;
 * - `listener` (`payload.event`): the host keeps the port and posts `{data}` on every event;
 * - `track` (no port).
 * The SDK must send `initialize` within 10 s or the host hides the iframe
 * (https://pipedrive.readme.io/docs/custom-ui-extensions). Every message is recorded (POST
 * /host/log → `fake.host.log` and the fake's `sdk` event) so tests can assert on badges etc.
 */

export interface HostOptions {
  /** The JWT secret of the app's extensions (Pipedrive's default: the client secret). */
  secret: string;
  appUrl: () => string | null;
}

/** Pipedrive's documented size limits per extension (floating window, panel). */
const LIMITS = {
  window: { minW: 200, maxW: 800, minH: 70, maxH: 700 },
  panel: { minW: 0, maxW: 10_000, minH: 100, maxH: 750 },
  settings: { minW: 0, maxW: 10_000, minH: 100, maxH: 10_000 },
};

export function hostRoutes(st: FakeState, events: FakeEmitter, opts: HostOptions) {
  const log: SdkRecord[] = [];
  /** GET_SIGNED_TOKEN answers this many already-expired tokens next (the app must retry on its 401). */
  const faults = { expiredTokens: 0 };

  async function page(req: Req, surface: HostSurface): Promise<Res> {
    const appUrl = opts.appUrl();
    if (!appUrl) return { status: 409, body: 'Call fake.linkApp(appUrl) first: the host page needs to know where the app is.' };
    const userId = Number(req.query.get('user') ?? [...st.users.keys()][0]);
    const user = st.users.get(userId);
    if (!user) return { status: 404, body: `No fake user ${userId}` };
    const theme = req.query.get('theme') === 'dark' ? 'dark' : 'light';
    const runtimeId = randomUUID();
    const token = await mintUiToken({ userId: user.id, companyId: user.company_id, secret: opts.secret });
    const q = new URLSearchParams({ userId: String(user.id), companyId: String(user.company_id), token, id: runtimeId, theme });
    let path = '/ui/inbox';
    let context = '';
    if (surface === 'panel') {
      const resource = req.query.get('resource') ?? 'deal';
      const selected = req.query.get('selectedIds') ?? '1';
      q.set('resource', resource);
      q.set('view', 'details');
      q.set('selectedIds', selected);
      path = '/ui/panel';
      const rec = st.records.get(`${resource}:${selected}`);
      context = rec ? rec.title : `${resource} ${selected}`;
    } else if (surface === 'settings') path = '/ui/settings';
    const forced = { w: Number(req.query.get('w')) || 0, h: Number(req.query.get('h')) || 0 };
    const config = { surface, runtimeId, userId: user.id, limits: LIMITS[surface], forced, theme };
    return {
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
      body: hostHtml(`${appUrl}${path}?${q}`, config, user.name, user.company_name, context),
    };
  }

  return {
    log,
    faults,
    async route(req: Req): Promise<Res | undefined> {
      if (req.method === 'GET' && req.path === '/host') return { status: 200, body: indexHtml(st) };
      const m = /^\/host\/(window|panel|settings)$/.exec(req.path);
      if (req.method === 'GET' && m) return page(req, m[1] as HostSurface);
      if (req.method === 'GET' && req.path === '/host/token') {
        // GET_SIGNED_TOKEN: a fresh 5-minute token for the user the page was opened for.
        const user = st.users.get(Number(req.query.get('user')));
        if (!user) return { status: 404, body: { error: 'unknown user' } };
        const expired = faults.expiredTokens > 0;
        if (expired) faults.expiredTokens--;
        return { status: 200, body: { token: await mintUiToken({ userId: user.id, companyId: user.company_id, secret: opts.secret, ...(expired ? { ttl: -120 } : {}) }) } };
      }
      if (req.method === 'POST' && req.path === '/host/log') {
        const rec = { ...(JSON.parse(req.body.toString('utf8')) as Omit<SdkRecord, 'at'>), at: Date.now() };
        log.push(rec);
        events.emit('sdk', rec);
        return { status: 204 };
      }
      return undefined;
    },
  };
}

function indexHtml(st: FakeState): string {
  const users = [...st.users.values()];
  const records = [...st.records.values()];
  const link = (href: string, text: string) => `<li><a href="${href}">${text.replace(/</g, '&lt;')}</a></li>`;
  return `<!doctype html><meta charset="utf-8"><title>Fake Pipedrive</title>
<style>body{font:15px system-ui;margin:24px}</style><h1>Fake Pipedrive: custom UI extensions</h1><ul>
${users.map((u) => [link(`/host/window?user=${u.id}`, `Floating window as ${u.name}`), link(`/host/window?user=${u.id}&theme=dark`, `… dark theme`), link(`/host/settings?user=${u.id}`, `App settings as ${u.name}`)].join('')).join('')}
${records.map((r) => link(`/host/panel?resource=${r.type}&selectedIds=${r.id}`, `${r.type} panel: ${r.title}`)).join('')}
</ul>`;
}

function hostHtml(src: string, config: object, userName: string, companyName: string, context: string): string {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const c = config as { surface: HostSurface; theme: string };
  return `<!doctype html><html><head><meta charset="utf-8"><title>Fake Pipedrive</title>
<style>
body{margin:0;font:14px system-ui,sans-serif;background:${c.theme === 'dark' ? '#121417' : '#eef0f3'};color:${c.theme === 'dark' ? '#e8eaed' : '#1b1f23'}}
#top{display:flex;align-items:center;gap:12px;height:48px;padding:0 16px;background:#203232;color:#fff}
#top .sp{flex:1}#dock{position:relative;background:#2f4a4a;border:0;color:#fff;border-radius:6px;padding:6px 10px;cursor:pointer}
#dock-badge{position:absolute;top:-6px;right:-8px;background:#d92d20;color:#fff;border-radius:9px;font-size:11px;padding:0 5px;line-height:18px}
#dock-badge:empty{display:none}
#window{position:fixed;right:8px;bottom:8px;max-width:calc(100vw - 16px);background:#fff;border-radius:8px;box-shadow:0 6px 24px rgba(0,0,0,.25);overflow:hidden}
#window header{height:28px;background:#203232;color:#fff;font-size:12px;display:flex;align-items:center;padding:0 10px}
#layout{display:flex;gap:16px;padding:16px}#record{flex:1;background:${c.theme === 'dark' ? '#1d2024' : '#fff'};border-radius:8px;padding:16px;min-height:300px}
#sidebar{width:360px;flex:none}#sidebar .box{background:${c.theme === 'dark' ? '#1d2024' : '#fff'};border-radius:8px;overflow:hidden}
#sidebar .box h3{margin:0;padding:8px 12px;font-size:13px;border-bottom:1px solid #ccc}
iframe{border:0;display:block;width:100%;max-width:100%}
#snackbar{position:fixed;left:50%;bottom:24px;transform:translateX(-50%);background:#333;color:#fff;padding:10px 16px;border-radius:6px}
#snackbar:empty{display:none}#confirm{position:fixed;inset:0;background:rgba(0,0,0,.4);display:flex;align-items:center;justify-content:center}
#confirm[hidden]{display:none}#confirm div{background:#fff;color:#000;padding:16px;border-radius:8px;max-width:360px}
#hidden-note{padding:16px;color:#b42318}
</style></head><body>
<div id="top"><strong>Pipedrive</strong> <span>(fake) ${esc(companyName)} · ${esc(userName)}</span><span class="sp"></span>
<button id="host-theme" type="button">Toggle theme</button>
${c.surface === 'window' ? '<button id="dock" type="button">Messages <span id="dock-badge"></span></button>' : ''}</div>
${
  c.surface === 'window'
    ? `<div id="window"><header>Messages</header><iframe id="ext" title="Messages" allow="clipboard-write"></iframe></div>`
    : c.surface === 'panel'
      ? `<div id="layout"><div id="record"><h2 id="record-title">${esc(context)}</h2><p>Deal details (fake).</p></div><div id="sidebar"><div class="box"><h3>Messaging bridge</h3><iframe id="ext" title="Conversations"></iframe></div></div></div>`
      : `<div style="padding:16px"><iframe id="ext" title="App settings" style="height:1400px;background:#fff"></iframe></div>`
}
<div id="snackbar" role="status"></div>
<div id="confirm" hidden><div><strong id="confirm-title"></strong><p id="confirm-text"></p><button id="host-confirm-ok" type="button">OK</button> <button id="host-confirm-cancel" type="button">Cancel</button></div></div>
<script>
(function () {
  var cfg = ${JSON.stringify(config)};
  var frame = document.getElementById('ext');
  var listeners = {};
  var initialized = false;
  var visible = true;
  var theme = cfg.theme;
  window.hostLog = [];
  function record(r) {
    r.surface = cfg.surface;
    window.hostLog.push(r);
    fetch('/host/log', { method: 'POST', body: JSON.stringify(r), keepalive: true });
  }
  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }
  function size(s) {
    if (!s) return;
    var L = cfg.limits;
    if (s.width && cfg.surface === 'window') frame.style.width = (cfg.forced.w || clamp(s.width, L.minW, L.maxW)) + 'px';
    if (s.height) frame.style.height = (cfg.forced.h || clamp(s.height, L.minH, L.maxH)) + 'px';
  }
  if (cfg.surface === 'window') size({ width: 380, height: 560 });
  else size({ height: cfg.surface === 'panel' ? 200 : 1400 });
  function emit(event, data) { if (listeners[event]) listeners[event].postMessage({ data: data }); }
  var snackTimer;
  var commands = {
    initialize: function (args) { initialized = true; size(args && args.size); },
    get_signed_token: function () {
      return fetch('/host/token?user=' + cfg.userId).then(function (r) { return r.json(); }).then(function (j) { return { token: j.token }; });
    },
    set_notification: function (args) {
      var n = (args && args.number) || 0;
      var b = document.getElementById('dock-badge');
      if (b) b.textContent = n > 9 ? '9+' : n ? String(n) : '';
    },
    resize: function (args) { size(args); },
    show_snackbar: function (args) {
      var s = document.getElementById('snackbar');
      s.textContent = args.message;
      clearTimeout(snackTimer);
      snackTimer = setTimeout(function () { s.textContent = ''; }, 4000);
    },
    show_confirmation: function (args) {
      return new Promise(function (resolve) {
        var box = document.getElementById('confirm');
        document.getElementById('confirm-title').textContent = args.title || '';
        document.getElementById('confirm-text').textContent = args.description || '';
        box.hidden = false;
        document.getElementById('host-confirm-ok').onclick = function () { box.hidden = true; resolve({ confirmed: true }); };
        document.getElementById('host-confirm-cancel').onclick = function () { box.hidden = true; resolve({ confirmed: false }); };
      });
    },
    get_metadata: function () { return { windowHeight: window.innerHeight, windowWidth: window.innerWidth }; },
    show_floating_window: function (args) { setVisible(true, 'command', args); },
    hide_floating_window: function (args) { setVisible(false, 'command', args); },
    set_focus_mode: function () {},
    redirect_to: function () {},
    open_modal: function () { return { status: 'closed' }; },
    close_modal: function () {},
  };
  function setVisible(v, invoker, args) {
    var w = document.getElementById('window');
    if (!w) return;
    visible = v;
    w.style.display = v ? '' : 'none';
    emit('visibility', { is_visible: v, context: Object.assign({ invoker: invoker }, (args && args.context) || {}) });
  }
  window.addEventListener('message', function (ev) {
    if (ev.source !== frame.contentWindow) return;
    var msg = ev.data;
    if (!msg || msg.id !== cfg.runtimeId || !msg.payload) return;
    var p = msg.payload;
    var port = ev.ports && ev.ports[0];
    if (p.type === 'track') { record({ type: 'track', event: p.event }); return; }
    if (p.type === 'listener') { record({ type: 'listener', event: p.event }); if (port) listeners[p.event] = port; return; }
    if (p.type !== 'command' || !port) return;
    record({ type: 'command', command: p.command, args: p.args });
    var f = commands[p.command];
    if (!f) { port.postMessage({ error: 'Unknown command ' + p.command }); return; }
    if (!initialized && p.command !== 'initialize') { port.postMessage({ error: 'SDK is not initialized' }); return; }
    Promise.resolve().then(function () { return f(p.args); }).then(function (data) { port.postMessage({ data: data }); }, function (err) { port.postMessage({ error: String(err && err.message || err) }); });
  });
  // Pipedrive hides an extension whose SDK has not initialized within 10 s.
  setTimeout(function () {
    if (initialized) return;
    record({ type: 'timeout' });
    frame.style.display = 'none';
    var n = document.createElement('p');
    n.id = 'hidden-note';
    n.textContent = 'The app did not initialize the SDK within 10 s, so Pipedrive hides it.';
    frame.parentNode.appendChild(n);
  }, 10000);
  document.getElementById('host-theme').onclick = function () {
    theme = theme === 'dark' ? 'light' : 'dark';
    emit('user_settings_change', { theme: theme });
  };
  var dock = document.getElementById('dock');
  if (dock) dock.onclick = function () { setVisible(!visible, 'user'); };
  frame.src = ${JSON.stringify(src)};
})();
</script></body></html>`;
}
