/*
 * The admin page inside Pipedrive (/ui/settings): admin.js talks to /ui/api/settings with bearer
 * tokens from the Pipedrive SDK instead of the session cookie (no cookies in iframes), confirms
 * through Pipedrive's dialog, and "reloads" by navigating with a fresh token (the one in the URL
 * may have expired). Also shows and edits which surface the company's channels use.
 */
'use strict';
(function () {
  var W = window.pdbWorkspace;
  var ready = W.initialize();
  ready.catch(function (err) {
    var flash = document.getElementById('flash');
    if (flash) {
      flash.className = 'banner err';
      flash.textContent = err.message;
    }
  });
  function bearer() {
    return ready
      .then(function () {
        return W.token(false);
      })
      .then(function (t) {
        return { Authorization: 'Bearer ' + t };
      });
  }
  // admin.js reads its API base from the page (#admin data-api-base=/ui/api/settings) and these hooks.
  window.bridgeAdmin = {
    credentials: 'omit',
    headers: bearer,
    confirm: function (text) {
      return ready
        .then(function () {
          return W.execute(W.Command.SHOW_CONFIRMATION, { title: 'Please confirm', description: text, okText: 'Delete', okColor: 'negative' });
        })
        .then(function (r) {
          return !!(r && r.confirmed);
        });
    },
    reload: function () {
      ready
        .then(function () {
          return W.token(true);
        })
        .then(function (t) {
          var u = new URL(location.href);
          u.searchParams.set('token', t);
          location.replace(u.toString());
        });
    },
  };

  var CHOICES = [
    ['workspace', 'Workspace', 'The chat window, record panels and transcripts as notes. Works on every Pipedrive company today.'],
    ['channels', 'Messaging inbox (Channels API)', "Pipedrive's Messaging inbox. Pipedrive removed this API on 2026-02-01; only companies that still have it can use it."],
    ['both', 'Both', 'The workspace, plus the Messaging inbox where Pipedrive still offers it.'],
  ];
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function api(method, path, body) {
    return bearer()
      .then(function (auth) {
        return fetch('/ui/api/settings' + path, {
          method: method,
          credentials: 'omit',
          headers: Object.assign({ Accept: 'application/json' }, body ? { 'Content-Type': 'application/json' } : {}, auth),
          body: body ? JSON.stringify(body) : undefined,
        });
      })
      .then(function (res) {
        return res
          .json()
          .catch(function () {
            return {};
          })
          .then(function (json) {
            if (!res.ok) throw new Error((json.error && json.error.message) || 'HTTP ' + res.status);
            return json;
          });
      });
  }
  function renderSurface(box, current, note) {
    box.textContent = '';
    box.removeAttribute('data-loading');
    var fs = el('fieldset', 'surface-choice');
    fs.appendChild(el('legend', 'sr', 'Surface'));
    CHOICES.forEach(function (c) {
      var label = el('label', 'choice');
      var input = el('input');
      input.type = 'radio';
      input.name = 'surface';
      input.value = c[0];
      input.id = 'surface-' + c[0];
      input.checked = current === c[0];
      input.addEventListener('change', function () {
        fs.disabled = true;
        api('PUT', '/surface', { surface: c[0] }).then(
          function (r) {
            renderSurface(box, r.surface || c[0], r.reason);
            W.execute(W.Command.SHOW_SNACKBAR, { message: 'Saved: ' + c[1] }).catch(function () {});
          },
          function (err) {
            renderSurface(box, current, err.message);
          },
        );
      });
      label.appendChild(input);
      var text = el('span', 'choice-text');
      text.appendChild(el('strong', '', c[1]));
      text.appendChild(el('span', 'hint', c[2]));
      label.appendChild(text);
      fs.appendChild(label);
    });
    box.appendChild(fs);
    if (note) box.appendChild(el('p', 'banner warn', note));
  }
  var box = document.getElementById('surface');
  if (box) {
    api('GET', '/surface').then(
      function (r) {
        renderSurface(box, r.surface, r.reason);
      },
      function (err) {
        box.textContent = '';
        box.appendChild(el('p', 'banner err', 'Could not load the surface setting: ' + err.message));
      },
    );
  }
})();
