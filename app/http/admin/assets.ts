/**
 * The admin page's script, served from /admin/assets/admin.js (the CSP forbids inline
 * script). It only talks JSON to /admin/api and reloads the server-rendered page.
 */
export const ADMIN_JS = String.raw`'use strict';
(function () {
  var flash = document.getElementById('flash');
  function show(kind, text) {
    flash.className = 'banner ' + kind;
    flash.textContent = text;
  }
  // Inside Pipedrive (/ui/settings) settings.js sets window.pdbAdmin: another API base, bearer
  // tokens from the Pipedrive SDK instead of the cookie, the SDK's confirmation dialog, and a reload
  // that carries a fresh token. Standalone, the defaults below are the cookie-session page.
  var host = window.pdbAdmin || {
    base: '/admin/api',
    credentials: 'same-origin',
    headers: function () { return Promise.resolve({}); },
    confirm: function (text) { return Promise.resolve(window.confirm(text)); },
    reload: function () { location.reload(); },
  };
  function api(method, path, body) {
    return host.headers().then(function (auth) {
      return fetch(host.base + path, {
        method: method,
        credentials: host.credentials,
        headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'application/json' }, auth),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) throw new Error((json.error && json.error.message) || ('HTTP ' + res.status));
        return json;
      });
    });
  }
  function pemBlocks(text) {
    var blocks = text.match(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g);
    return blocks || text.split('\n').map(function (l) { return l.trim(); }).filter(Boolean);
  }
  var select = document.getElementById('provider');
  function syncFields() {
    document.querySelectorAll('.provider-fields').forEach(function (fs) {
      fs.hidden = !select || fs.getAttribute('data-provider') !== select.value;
    });
  }
  if (select) { select.addEventListener('change', syncFields); syncFields(); }
  var form = document.getElementById('connect');
  if (form) form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var provider = select.value;
    var config = {};
    var fs = document.querySelector('.provider-fields[data-provider="' + provider + '"]');
    fs.querySelectorAll('[data-field]').forEach(function (el) {
      var type = el.getAttribute('data-type');
      var name = el.getAttribute('data-field');
      if (type === 'boolean') config[name] = el.checked;
      else if (type === 'list') { if (el.value.trim()) config[name] = pemBlocks(el.value); }
      else if (type === 'number') { if (el.value !== '') config[name] = Number(el.value); }
      else if (el.value !== '') config[name] = el.value;
    });
    var templates = document.getElementById('templates').value.split('\n').map(function (l) { return l.trim(); }).filter(Boolean).map(function (l) {
      var p = l.split('|').map(function (x) { return x.trim(); });
      return { id: p[0], name: p[1], language: p[2], content: p.slice(3).join(' | ') };
    });
    var button = document.getElementById('connect-button');
    button.disabled = true;
    show('warn', 'Connecting…');
    api('POST', '/channels', {
      provider: provider,
      name: document.getElementById('name').value,
      avatar_url: document.getElementById('avatar_url').value,
      config: config,
      templates: templates,
    }).then(function () { host.reload(); }, function (err) {
      button.disabled = false;
      show('err', err.message);
    });
  });
  document.querySelectorAll('button.delete').forEach(function (b) {
    b.addEventListener('click', function () {
      host.confirm('Delete channel "' + b.getAttribute('data-name') + '"? Pipedrive removes its conversations too.').then(function (ok) {
        if (!ok) return;
        b.disabled = true;
        api('DELETE', '/channels/' + encodeURIComponent(b.getAttribute('data-id'))).then(function () { host.reload(); }, function (err) {
          b.disabled = false;
          show('err', err.message);
        });
      });
    });
  });
  document.querySelectorAll('button.replay').forEach(function (b) {
    b.addEventListener('click', function () {
      b.disabled = true;
      api('POST', '/dead-letters/' + encodeURIComponent(b.getAttribute('data-id')) + '/replay', {}).then(function () { host.reload(); }, function (err) {
        b.disabled = false;
        show('err', err.message);
      });
    });
  });
  var replayAll = document.getElementById('replay-all');
  if (replayAll) replayAll.addEventListener('click', function () {
    replayAll.disabled = true;
    api('POST', '/dead-letters/replay', {}).then(function (r) { show('ok', 'Replayed ' + r.replayed + '.'); host.reload(); }, function (err) {
      replayAll.disabled = false;
      show('err', err.message);
    });
  });
  var uninstall = document.getElementById('uninstall');
  if (uninstall) uninstall.addEventListener('click', function () {
    if (!confirm('Uninstall the app for your Pipedrive user? Your channels are disconnected.')) return;
    uninstall.disabled = true;
    api('DELETE', '/installation').then(function () { host.reload(); }, function (err) {
      uninstall.disabled = false;
      show('err', err.message);
    });
  });
})();
`;
