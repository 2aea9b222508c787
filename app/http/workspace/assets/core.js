/*
 * The workspace pages' link to Pipedrive and to our /ui/api, shared by the window, the panel and
 * the settings page. Plain browser JavaScript, no build step.
 *
 * - The Pipedrive SDK (window.AppExtensionsSDK, served from the installed npm package) is
 *   initialized first thing: Pipedrive hides an extension whose SDK has not initialized within 10 s.
 *   https://pipedrive.readme.io/docs/custom-ui-extensions
 * - Every API call carries a fresh token from the SDK's GET_SIGNED_TOKEN (valid 5 minutes) as a
 *   bearer token: re-fetched when 4 minutes old and once more on a 401. No cookies: browsers block
 *   third-party cookies in iframes.
 * - The live stream is an EventSource, which cannot send headers: it opens with a short-lived
 *   single-use ticket bought with the bearer token, and reconnects with a new one.
 */
'use strict';
(function () {
  var SDK = window.AppExtensionsSDK;
  var TOKEN_MAX_AGE_MS = 4 * 60 * 1000;
  var sdk = null;
  var token = null;
  var tokenAt = 0;
  var pendingToken = null;
  var themeListeners = [];

  function setTheme(theme) {
    var t = theme === 'dark' ? 'dark' : 'light';
    document.documentElement.setAttribute('data-theme', t);
    themeListeners.forEach(function (f) {
      f(t);
    });
  }

  /** Resolves with the SDK once Pipedrive acknowledged INITIALIZE; rejects outside Pipedrive. */
  function initialize(size) {
    if (!SDK) return Promise.reject(new Error('The Pipedrive SDK did not load.'));
    if (window.parent === window) return Promise.reject(new Error('Open this page from Pipedrive.'));
    try {
      sdk = new SDK();
    } catch (e) {
      // No `id` in the URL: not loaded by Pipedrive.
      return Promise.reject(new Error('Open this page from Pipedrive.'));
    }
    setTheme(sdk.userSettings && sdk.userSettings.theme);
    return sdk.initialize(size ? { size: size } : {}).then(function () {
      try {
        sdk.listen(SDK.Event.USER_SETTINGS_CHANGE, function (ev) {
          if (ev && ev.data && ev.data.theme) setTheme(ev.data.theme);
        });
      } catch (e) {
        /* an older host without the event keeps the URL's theme */
      }
      return sdk;
    });
  }

  function freshToken(force) {
    if (!force && token && Date.now() - tokenAt < TOKEN_MAX_AGE_MS) return Promise.resolve(token);
    if (!pendingToken) {
      pendingToken = sdk.execute(SDK.Command.GET_SIGNED_TOKEN).then(
        function (r) {
          token = r && r.token;
          tokenAt = Date.now();
          pendingToken = null;
          if (!token) throw new Error('Pipedrive gave no token.');
          return token;
        },
        function (err) {
          pendingToken = null;
          throw err;
        },
      );
    }
    return pendingToken;
  }

  function ApiError(status, code, message) {
    var e = new Error(message);
    e.status = status;
    e.code = code;
    return e;
  }

  /** fetch /ui/api + path with a bearer token; JSON in and out; FormData passes through. */
  function api(method, path, body) {
    function attempt(force) {
      return freshToken(force).then(function (t) {
        var headers = { Authorization: 'Bearer ' + t, Accept: 'application/json' };
        var payload;
        if (body instanceof FormData) payload = body;
        else if (body !== undefined) {
          headers['Content-Type'] = 'application/json';
          payload = JSON.stringify(body);
        }
        return fetch('/ui/api' + path, { method: method, headers: headers, body: payload, credentials: 'omit', cache: 'no-store' });
      });
    }
    return attempt(false)
      .then(function (res) {
        // A token can expire between the age check and the server's clock: one retry with a new one.
        return res.status === 401 ? attempt(true) : res;
      })
      .then(function (res) {
        if (res.status === 204) return {};
        return res
          .json()
          .catch(function () {
            return {};
          })
          .then(function (json) {
            if (!res.ok) {
              var err = json && json.error;
              throw ApiError(res.status, err && err.code, (err && err.message) || 'The server answered ' + res.status + '.');
            }
            return json;
          });
      });
  }

  /**
   * Opens the live stream and keeps it open: on an error it closes, waits (1 s doubling to 30 s)
   * and reconnects with a new ticket; `onOpen` runs after every (re)connect so the page can
   * reload what it may have missed.
   */
  function stream(handlers, onOpen, onState) {
    var delay = 1000;
    var source = null;
    var stopped = false;
    function connect() {
      if (stopped) return;
      api('POST', '/stream-ticket', {}).then(function (r) {
        source = new EventSource('/ui/api/stream?ticket=' + encodeURIComponent(r.ticket));
        source.onopen = function () {
          delay = 1000;
          if (onState) onState('live');
          if (onOpen) onOpen();
        };
        Object.keys(handlers).forEach(function (name) {
          source.addEventListener(name, function (ev) {
            var data;
            try {
              data = JSON.parse(ev.data);
            } catch (e) {
              return;
            }
            handlers[name](data);
          });
        });
        source.onerror = function () {
          source.close();
          retry();
        };
      }, retry);
    }
    function retry() {
      if (stopped) return;
      if (onState) onState('reconnecting');
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    }
    connect();
    return function stop() {
      stopped = true;
      if (source) source.close();
    };
  }

  function execute(command, args) {
    if (!sdk) return Promise.resolve();
    return sdk.execute(command, args);
  }

  window.pdbWorkspace = {
    Command: SDK ? SDK.Command : {},
    Event: SDK ? SDK.Event : {},
    initialize: initialize,
    token: freshToken,
    api: api,
    stream: stream,
    execute: execute,
    listen: function (event, cb) {
      return sdk ? sdk.listen(event, cb) : function () {};
    },
    onTheme: function (f) {
      themeListeners.push(f);
    },
  };
})();
