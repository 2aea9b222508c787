/**
 * The admin page's script, served from /admin/assets/admin.js (the CSP forbids inline
 * script). It only talks JSON to the admin API and reloads the server-rendered page, carrying
 * a confirmation across the reload in sessionStorage.
 *
 * Where the API lives comes from the page: `data-api-base` on #admin (default /admin/api,
 * with the session cookie). A page that embeds this one elsewhere may set, before this script,
 * `window.bridgeAdmin = { headers: () => ({Authorization: 'Bearer …'}) }` (a function that may
 * return a promise), `credentials: 'omit'`, and optionally `reload()` and `confirm(text)` (a
 * promise of a boolean).
 */
export const ADMIN_JS = String.raw`'use strict';
(function () {
  var root = document.getElementById('admin');
  var cfg = window.bridgeAdmin || {};
  var apiBase = (root && root.getAttribute('data-api-base')) || '/admin/api';
  var flash = document.getElementById('flash');
  var FLASH_KEY = 'bridge-admin-flash';

  function show(kind, text, focus) {
    flash.className = 'banner ' + kind;
    flash.textContent = text;
    if (focus) flash.focus();
  }
  /** Shows the confirmation after the reload (or at once where storage is not allowed). */
  function reloadWith(text) {
    try { sessionStorage.setItem(FLASH_KEY, text); } catch (e) { show('ok', text, true); return; }
    reload();
  }
  try {
    var pending = sessionStorage.getItem(FLASH_KEY);
    if (pending) { sessionStorage.removeItem(FLASH_KEY); show('ok', pending, true); }
  } catch (e) { /* storage blocked: no confirmation to carry */ }

  // Inside Pipedrive the embedding page also answers these: a reload that carries a fresh token
  // (the URL's may have expired) and Pipedrive's own confirmation dialog.
  function reload() { if (typeof cfg.reload === 'function') cfg.reload(); else location.reload(); }
  function confirmed(text) { return Promise.resolve(typeof cfg.confirm === 'function' ? cfg.confirm(text) : window.confirm(text)); }

  function api(method, path, body) {
    return Promise.resolve(typeof cfg.headers === 'function' ? cfg.headers() : cfg.headers || {}).then(function (extra) {
      var headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
      Object.keys(extra || {}).forEach(function (k) { headers[k] = extra[k]; });
      return fetch(apiBase + path, {
        method: method,
        credentials: cfg.credentials || 'same-origin',
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) {
          var err = new Error((json.error && json.error.message) || ('The server answered HTTP ' + res.status));
          err.fields = (json.error && json.error.fields) || [];
          throw err;
        }
        return json;
      });
    });
  }

  // ── copy buttons ──────────────────────────────────────────────────────────────
  document.querySelectorAll('button.copy').forEach(function (b) {
    b.addEventListener('click', function () {
      var text = b.getAttribute('data-copy');
      var done = function () {
        b.textContent = 'Copied';
        setTimeout(function () { b.textContent = 'Copy'; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectNear(b); });
      } else selectNear(b);
    });
  });
  /** Without clipboard access: select the URL so Ctrl+C / long-press copies it. */
  function selectNear(b) {
    var code = b.parentNode.querySelector('code');
    var range = document.createRange();
    range.selectNodeContents(code);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    b.textContent = 'Selected: press Ctrl+C';
  }

  // ── the connect / edit form ───────────────────────────────────────────────────
  var form = document.getElementById('connect');
  var select = document.getElementById('provider');
  var formErrors = document.getElementById('form-errors');
  var submit = document.getElementById('connect-button');
  var title = document.getElementById('form-title');

  function fieldsetOf(provider) {
    return document.querySelector('.provider-fields[data-provider="' + provider + '"]');
  }
  function syncFields() {
    document.querySelectorAll('.provider-fields').forEach(function (fs) {
      fs.hidden = !select || fs.getAttribute('data-provider') !== select.value;
    });
  }
  if (select) { select.addEventListener('change', function () { clearErrors(); syncFields(); }); syncFields(); }

  function clearErrors() {
    if (!form) return;
    form.querySelectorAll('.field-error').forEach(function (p) { p.hidden = true; p.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
    formErrors.hidden = true;
    formErrors.textContent = '';
  }
  /** The visible .field a server field path belongs to ("config.keys.0" → config.keys). */
  function fieldBox(path) {
    var key = String(path).replace(/\.\d+(\..*)?$/, '');
    if (/^templates/.test(key)) key = 'templates';
    var boxes = form.querySelectorAll('.field[data-error-for="' + key + '"]');
    for (var n = 0; n < boxes.length; n++) if (!boxes[n].closest('[hidden]')) return boxes[n];
    return null;
  }
  function showErrors(err) {
    clearErrors();
    var first = null;
    var unplaced = [];
    (err.fields || []).forEach(function (f) {
      var box = fieldBox(f.field);
      if (!box) { unplaced.push(f.message); return; }
      var p = box.querySelector('.field-error');
      var input = box.querySelector('input,select,textarea');
      if (!p.hidden) return;
      p.textContent = f.message;
      p.hidden = false;
      if (input) { input.setAttribute('aria-invalid', 'true'); if (!first) first = input; }
    });
    var count = (err.fields || []).length - unplaced.length;
    formErrors.textContent = count
      ? (count === 1 ? 'One field needs your attention; it is marked above.' : count + ' fields need your attention; they are marked above.')
      : err.message;
    if (unplaced.length) formErrors.textContent += ' ' + unplaced.join(' ');
    formErrors.hidden = false;
    (first || formErrors).focus();
  }

  function configOf(provider, editing) {
    var config = {};
    fieldsetOf(provider).querySelectorAll('[data-field]').forEach(function (el) {
      var type = el.getAttribute('data-type');
      var name = el.getAttribute('data-field');
      if (type === 'boolean') config[name] = el.checked;
      else if (type === 'list') { if (el.value.trim()) config[name] = pemBlocks(el.value); else if (editing) config[name] = []; }
      else if (type === 'number') { if (el.value !== '') config[name] = Number(el.value); }
      else if (el.value !== '') config[name] = el.value;
      // Editing: an empty secret keeps the stored one; other empty fields are sent to be checked.
      else if (editing && type !== 'secret') config[name] = '';
    });
    return config;
  }
  function pemBlocks(text) {
    var blocks = text.match(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g);
    return blocks || text.split('\n').map(function (l) { return l.trim(); }).filter(Boolean);
  }

  var editing = null;
  function startEdit(b) {
    editing = { id: b.getAttribute('data-id'), name: b.getAttribute('data-name') };
    form.reset();
    clearErrors();
    form.setAttribute('data-mode', 'edit');
    select.value = b.getAttribute('data-provider');
    select.disabled = true;
    syncFields();
    document.getElementById('name').value = editing.name;
    document.getElementById('avatar_url').value = b.getAttribute('data-avatar') || '';
    var settings = JSON.parse(b.getAttribute('data-settings') || '{}');
    fieldsetOf(select.value).querySelectorAll('[data-field]').forEach(function (el) {
      var v = settings[el.getAttribute('data-field')];
      var type = el.getAttribute('data-type');
      if (type === 'secret') { el.required = false; el.setAttribute('placeholder', 'unchanged: type a new value to replace it'); }
      else if (type === 'boolean') el.checked = !!v;
      else if (v !== undefined && v !== null) el.value = Array.isArray(v) ? v.join('\n') : String(v);
    });
    title.textContent = 'Edit channel “' + editing.name + '”';
    submit.textContent = 'Save changes';
    title.scrollIntoView();
    document.getElementById('name').focus();
  }
  function stopEdit() {
    editing = null;
    form.reset();
    clearErrors();
    form.setAttribute('data-mode', 'connect');
    select.disabled = false;
    form.querySelectorAll('[data-type="secret"]').forEach(function (el) { el.removeAttribute('placeholder'); el.required = true; });
    syncFields();
    title.textContent = title.getAttribute('data-connect-title');
    submit.textContent = submit.getAttribute('data-connect-label');
  }
  document.querySelectorAll('button.edit').forEach(function (b) {
    b.addEventListener('click', function () { startEdit(b); });
  });
  var cancel = document.getElementById('cancel-edit');
  if (cancel) cancel.addEventListener('click', stopEdit);

  if (form) form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var provider = select.value;
    var name = document.getElementById('name').value;
    var avatar = document.getElementById('avatar_url').value;
    var request;
    if (editing) {
      var id = editing.id;
      request = api('PATCH', '/channels/' + encodeURIComponent(id), { name: name, avatar_url: avatar, config: configOf(provider, true) })
        .then(function () { return 'Channel “' + name + '” saved: the platform accepted the new settings.'; });
    } else {
      var templates = document.getElementById('templates').value.split('\n').map(function (l) { return l.trim(); }).filter(Boolean).map(function (l) {
        var p = l.split('|').map(function (x) { return x.trim(); });
        return { id: p[0], name: p[1], language: p[2], content: p.slice(3).join(' | ') };
      });
      request = api('POST', '/channels', { provider: provider, name: name, avatar_url: avatar, config: configOf(provider, false), templates: templates })
        .then(function (r) {
          var urls = (r.channel && r.channel.urls) || {};
          return 'Channel “' + name + '” is connected and registered in Pipedrive.' +
            (urls.callback_url ? ' Give its callback URL (in the list, with a Copy button) to the platform.' : '');
        });
    }
    submit.disabled = true;
    formErrors.hidden = true;
    request.then(reloadWith, function (err) {
      submit.disabled = false;
      showErrors(err);
    });
  });

  // ── row actions ───────────────────────────────────────────────────────────────
  document.querySelectorAll('button.delete').forEach(function (b) {
    b.addEventListener('click', function () {
      var name = b.getAttribute('data-name');
      confirmed('Delete channel "' + name + '"? Pipedrive removes its conversations too.').then(function (ok) {
        if (!ok) return;
        b.disabled = true;
        api('DELETE', '/channels/' + encodeURIComponent(b.getAttribute('data-id'))).then(function () {
          reloadWith('Channel “' + name + '” deleted.');
        }, function (err) {
          b.disabled = false;
          show('err', err.message, true);
        });
      });
    });
  });
  document.querySelectorAll('button.replay').forEach(function (b) {
    b.addEventListener('click', function () {
      b.disabled = true;
      api('POST', '/dead-letters/' + encodeURIComponent(b.getAttribute('data-id')) + '/replay', {}).then(function () {
        reloadWith('Replayed: the message is back in the outbox and will be delivered again.');
      }, function (err) {
        b.disabled = false;
        show('err', err.message, true);
      });
    });
  });
  var replayAll = document.getElementById('replay-all');
  if (replayAll) replayAll.addEventListener('click', function () {
    replayAll.disabled = true;
    api('POST', '/dead-letters/replay', {}).then(function (r) {
      reloadWith(r.replayed === 1 ? 'Replayed 1 dead letter.' : 'Replayed ' + r.replayed + ' dead letters.');
    }, function (err) {
      replayAll.disabled = false;
      show('err', err.message, true);
    });
  });
  var uninstall = document.getElementById('uninstall');
  if (uninstall) uninstall.addEventListener('click', function () {
    if (!confirm('Uninstall the app for your Pipedrive user? Your channels are disconnected.')) return;
    uninstall.disabled = true;
    api('DELETE', '/installation').then(function () { location.reload(); }, function (err) {
      uninstall.disabled = false;
      show('err', err.message, true);
    });
  });
})();
`;
