/*
 * The floating window (/ui/inbox) and the record panel (/ui/panel): one small client over
 * /ui/api (see core.js for the SDK, tokens and the live stream). Server-rendered frame, DOM built
 * here with textContent only: nothing a platform or a contact sends is ever parsed as HTML.
 */
'use strict';
(function () {
  var W = window.pdbWorkspace;
  var body = document.body;
  var surface = body.getAttribute('data-surface');
  var $ = function (id) {
    return document.getElementById(id);
  };

  if (surface === 'notice') {
    // Error and install pages still initialize the SDK, or Pipedrive hides the iframe after 10 s.
    W.initialize().catch(function () {});
    return;
  }
  if (surface !== 'inbox' && surface !== 'panel') return;

  var record = surface === 'panel' ? { type: body.getAttribute('data-record-type'), id: Number(body.getAttribute('data-record-id')) } : null;
  var RECORD_NAMES = { deal: 'deal', person: 'person', organization: 'organization' };
  var STATUS_TEXT = { queued: 'Sending…', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not delivered' };

  var state = {
    me: null,
    channels: {},
    conversations: [],
    filter: '',
    openId: null,
    messages: [],
    nextBefore: null,
    unread: 0,
    picked: [],
    visible: true,
    // Message ids the live stream has described since a post or retry of them began. The stream
    // presents a message when it looks, after the write; the post's answer presents it as it was
    // stored (still queued). An answer that arrives after the stream spoke must not undo it.
    live: {},
  };

  // ---------- small helpers ----------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  var ICONS = {
    file: 'M6 2h8l6 6v14H6z M14 2v6h6',
    clip: 'M21 11.5l-8.6 8.6a5 5 0 0 1-7-7l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9',
    note: 'M5 3h14v18H5z M8 8h8 M8 12h8 M8 16h5',
  };
  function icon(name) {
    var NS = 'http://www.w3.org/2000/svg';
    var svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', 'ico');
    var path = document.createElementNS(NS, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.appendChild(path);
    return svg;
  }
  function setStatus(text, kind) {
    var s = $('status');
    s.textContent = text || '';
    s.className = 'status' + (kind ? ' ' + kind : '');
    s.hidden = !text;
  }
  function dayKey(d) {
    return d.getFullYear() + '-' + d.getMonth() + '-' + d.getDate();
  }
  function dayLabel(d) {
    var now = new Date();
    var y = new Date(now.getTime() - 86400000);
    if (dayKey(d) === dayKey(now)) return 'Today';
    if (dayKey(d) === dayKey(y)) return 'Yesterday';
    var opts = { weekday: 'short', day: 'numeric', month: 'short' };
    if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
    return d.toLocaleDateString(undefined, opts);
  }
  function clock(d) {
    return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  function shortTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return dayKey(d) === dayKey(new Date()) ? clock(d) : dayLabel(d);
  }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (s < 45) return 'just now';
    var m = Math.round(s / 60);
    if (m < 60) return m + ' min ago';
    var h = Math.round(m / 60);
    if (h < 24) return h + (h === 1 ? ' hour ago' : ' hours ago');
    return dayLabel(new Date(iso));
  }
  function size(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return Math.round(n / 102.4) / 10 + ' KB';
    return Math.round(n / 104857.6) / 10 + ' MB';
  }
  function channelName(id) {
    var c = state.channels[id];
    return c ? c.name : 'Channel';
  }
  function platformName(p) {
    return p === 'airy' ? 'Airy' : p === 'alvaria' ? 'Alvaria' : p;
  }
  function transcriptText(c) {
    if (!c.record || !c.transcript) return '';
    var where = 'the ' + (RECORD_NAMES[c.record.type] || 'record') + "'s notes";
    if (c.transcript.pending) return c.transcript.savedAt ? 'Saved to ' + where + ' ' + ago(c.transcript.savedAt) + '; new lines pending' : 'Will be saved to ' + where;
    return c.transcript.savedAt ? 'Saved to ' + where + ' ' + ago(c.transcript.savedAt) : '';
  }
  function findConversation(id) {
    for (var i = 0; i < state.conversations.length; i++) if (state.conversations[i].id === id) return state.conversations[i];
    return null;
  }
  function sortConversations() {
    state.conversations.sort(function (a, b) {
      return String(b.lastActivityAt || '').localeCompare(String(a.lastActivityAt || ''));
    });
  }
  function upsertConversation(c) {
    if (record && !(c.record && c.record.type === record.type && String(c.record.id) === String(record.id))) return;
    var old = findConversation(c.id);
    if (old) Object.assign(old, c);
    else state.conversations.push(c);
    sortConversations();
  }

  // ---------- badge and counts ----------
  var sentBadge = -1;
  function setUnread(total) {
    state.unread = total;
    var t = $('total');
    t.textContent = total > 99 ? '99+' : String(total);
    t.hidden = !total || surface !== 'inbox';
    t.title = total + ' unread';
    // The dock badge belongs to the floating window; panels leave it alone.
    if (surface === 'inbox' && total !== sentBadge) {
      sentBadge = total;
      W.execute(W.Command.SET_NOTIFICATION, { number: total }).catch(function () {
        sentBadge = -1;
      });
    }
  }

  // ---------- channels and list ----------
  /** A channel's button: its platform's dot, its name and the platform's name; `attr` carries the channel id. */
  function channelChip(id, className, attr) {
    var c = state.channels[id];
    var b = el('button', className);
    b.type = 'button';
    b.setAttribute(attr, id);
    b.appendChild(el('span', 'dot ' + c.platform));
    b.appendChild(el('span', 'chip-name', c.name));
    b.appendChild(el('span', 'chip-platform', platformName(c.platform)));
    return b;
  }

  function renderChannels() {
    var nav = $('channels');
    if (!nav) return;
    nav.textContent = '';
    var ids = Object.keys(state.channels);
    var all = el('button', 'chip' + (state.filter ? '' : ' on'), 'All');
    all.type = 'button';
    all.addEventListener('click', function () {
      state.filter = '';
      renderChannels();
      renderList();
    });
    nav.appendChild(all);
    ids.forEach(function (id) {
      var b = channelChip(id, 'chip' + (state.filter === id ? ' on' : ''), 'data-channel-id');
      b.addEventListener('click', function () {
        state.filter = id;
        renderChannels();
        renderList();
      });
      nav.appendChild(b);
    });
  }

  function conversationRow(c) {
    var li = el('li', 'conv' + (c.unread ? ' unread' : '') + (c.id === state.openId ? ' open' : ''));
    li.setAttribute('data-conversation-id', c.id);
    li.setAttribute('data-channel-id', c.channelId);
    if (c.record) li.setAttribute('data-record', c.record.type + ':' + c.record.id);
    var b = el('button', 'conv-button');
    b.type = 'button';
    var top = el('div', 'conv-top');
    // In a panel every row is about the same record: name the channel instead.
    top.appendChild(el('span', 'conv-title', surface === 'panel' ? channelName(c.channelId) : c.title || channelName(c.channelId)));
    if (surface === 'inbox' && c.record) top.appendChild(el('span', 'tag', RECORD_NAMES[c.record.type] || c.record.type));
    top.appendChild(el('span', 'conv-time', shortTime(c.lastActivityAt)));
    b.appendChild(top);
    var sub = el('div', 'conv-sub');
    var ch = state.channels[c.channelId];
    sub.appendChild(el('span', 'dot ' + (ch ? ch.platform : '')));
    var what = c.lastMessage ? (c.lastMessage.direction === 'out' ? 'You: ' : '') + (c.lastMessage.text || 'Attachment') : 'No messages yet';
    sub.appendChild(el('span', 'conv-snippet', what));
    if (c.unread) sub.appendChild(el('span', 'badge', c.unread > 99 ? '99+' : String(c.unread)));
    b.appendChild(sub);
    var note = transcriptText(c);
    if (surface === 'panel' && note) {
      var meta = el('div', 'conv-meta transcript');
      meta.appendChild(icon('note'));
      meta.appendChild(el('span', '', note));
      b.appendChild(meta);
    }
    b.addEventListener('click', function () {
      openThread(c.id);
    });
    li.appendChild(b);
    return li;
  }

  function renderList() {
    var ul = $('conversations');
    ul.textContent = '';
    var shown = state.conversations.filter(function (c) {
      return !state.filter || c.channelId === state.filter;
    });
    shown.forEach(function (c) {
      ul.appendChild(conversationRow(c));
    });
    var empty = $('empty');
    if (!Object.keys(state.channels).length) {
      empty.textContent =
        state.me && state.me.user.isAdmin
          ? 'No channels yet. Connect an Airy or Alvaria channel in the app settings (Tools and apps → Marketplace apps).'
          : 'No channels yet. Ask a Pipedrive admin of your company to connect one in the app settings.';
      empty.hidden = false;
    } else if (!ul.children.length) {
      // A user's own conversation on each channel exists once they installed the app; anyone can
      // start one about a deal, person or organization from its panel.
      empty.textContent = record
        ? 'No conversations about this ' + RECORD_NAMES[record.type] + ' yet. Start one with New conversation.'
        : 'No conversations yet. Start one from a deal, person or organization: open it and use the Messaging bridge panel.';
      empty.hidden = false;
    } else empty.hidden = true;
    resizePanel();
  }

  function loadConversations() {
    var q = record ? '?record=' + encodeURIComponent(record.type + ':' + record.id) : '';
    return W.api('GET', '/conversations' + q).then(function (r) {
      state.conversations = [];
      (r.conversations || []).forEach(upsertConversation);
      renderList();
      if (state.openId) renderThreadHead();
    });
  }

  function startConversation(channelId, button) {
    if (button) button.disabled = true;
    return W.api('POST', '/conversations', { channelId: channelId, record: { type: record.type, id: record.id } }).then(
      function (r) {
        if (button) button.disabled = false;
        upsertConversation(r.conversation);
        renderList();
        openThread(r.conversation.id);
      },
      function (err) {
        if (button) button.disabled = false;
        setStatus(err.message, 'err');
      },
    );
  }

  function renderStartMenu() {
    var btn = $('start');
    var menu = $('start-menu');
    if (!btn || !menu) return;
    var ids = Object.keys(state.channels);
    btn.hidden = !ids.length;
    menu.textContent = '';
    menu.appendChild(el('p', 'hint', 'Start a conversation about this ' + RECORD_NAMES[record.type] + ' on:'));
    ids.forEach(function (id) {
      var b = channelChip(id, 'chip', 'data-start-channel');
      b.addEventListener('click', function () {
        menu.hidden = true;
        startConversation(id, b);
      });
      menu.appendChild(b);
    });
    btn.onclick = function () {
      showList();
      menu.hidden = !menu.hidden;
      resizePanel();
    };
  }

  // ---------- thread ----------
  var baseTitle = $('title').textContent;
  function showList() {
    state.openId = null;
    $('title').textContent = baseTitle;
    $('app').classList.remove('show-thread');
    $('thread-pane').hidden = true;
    $('back').hidden = true;
    renderList();
  }

  function renderThreadHead() {
    var c = findConversation(state.openId);
    var head = $('thread-head');
    head.textContent = '';
    if (!c) return;
    var ch = state.channels[c.channelId];
    // The bar names the conversation; this line says where it runs and what it is about.
    $('title').textContent = surface === 'panel' ? channelName(c.channelId) : c.title || channelName(c.channelId);
    var sub = el('div', 'thread-sub');
    sub.appendChild(el('span', 'dot ' + (ch ? ch.platform : '')));
    // A standing conversation is named after its channel: then the platform alone says enough.
    var where = ch ? platformName(ch.platform) : '';
    if ($('title').textContent !== channelName(c.channelId)) where = channelName(c.channelId) + (where ? ' · ' + where : '');
    sub.appendChild(el('span', '', where));
    if (c.record && surface === 'inbox') {
      sub.appendChild(document.createTextNode(' · '));
      var a = el('a', '', c.record.title);
      a.href = c.record.url;
      a.target = '_top';
      a.rel = 'noopener';
      sub.appendChild(a);
    }
    head.appendChild(sub);
    var note = transcriptText(c);
    if (note) {
      var n = el('div', 'thread-note transcript');
      n.appendChild(icon('note'));
      n.appendChild(el('span', '', note));
      head.appendChild(n);
    }
  }

  function openThread(id) {
    state.openId = id;
    state.messages = [];
    state.nextBefore = null;
    $('app').classList.add('show-thread');
    $('thread-pane').hidden = false;
    $('back').hidden = false;
    $('empty').hidden = true;
    renderThreadHead();
    $('messages').textContent = '';
    renderList();
    resizePanel();
    return W.api('GET', '/conversations/' + encodeURIComponent(id) + '/messages?limit=50').then(
      function (r) {
        if (state.openId !== id) return;
        state.messages = r.messages || [];
        state.nextBefore = r.nextBefore || null;
        renderMessages(true);
        markRead();
        $('text').focus({ preventScroll: true });
      },
      function (err) {
        setStatus(err.message, 'err');
      },
    );
  }

  function loadOlder() {
    var id = state.openId;
    if (!state.nextBefore) return;
    var box = $('messages');
    var fromBottom = box.scrollHeight - box.scrollTop;
    W.api('GET', '/conversations/' + encodeURIComponent(id) + '/messages?limit=50&before=' + encodeURIComponent(state.nextBefore)).then(
      function (r) {
        if (state.openId !== id) return;
        state.messages = (r.messages || []).concat(state.messages);
        state.nextBefore = r.nextBefore || null;
        renderMessages(false);
        box.scrollTop = box.scrollHeight - fromBottom;
      },
      function (err) {
        setStatus(err.message, 'err');
      },
    );
  }

  function markRead() {
    var c = findConversation(state.openId);
    if (!state.openId || !state.visible || document.visibilityState === 'hidden') return;
    if (c && !c.unread) return;
    W.api('POST', '/conversations/' + encodeURIComponent(state.openId) + '/read', {}).then(
      function () {
        if (c) {
          c.unread = 0;
          renderList();
        }
      },
      function () {},
    );
  }

  function attachmentNode(a) {
    var link = el('a', 'attachment');
    link.href = a.url;
    link.target = '_blank';
    link.rel = 'noopener';
    if (/^image\//.test(a.mime || '')) {
      var img = el('img');
      img.src = a.url;
      img.alt = a.name || 'image';
      img.loading = 'lazy';
      link.appendChild(img);
      link.classList.add('image');
    } else {
      link.appendChild(icon('file'));
      link.appendChild(el('span', 'file-name', a.name || 'file'));
      if (a.size) link.appendChild(el('span', 'file-size', size(a.size)));
    }
    return link;
  }

  function messageNode(m) {
    var row = el('div', 'msg ' + (m.direction === 'out' ? 'out' : 'in'));
    row.setAttribute('data-message-id', m.id);
    row.setAttribute('data-status', m.status || '');
    var bubble = el('div', 'bubble');
    if (m.text) bubble.appendChild(el('div', 'text', m.text));
    (m.attachments || []).forEach(function (a) {
      bubble.appendChild(attachmentNode(a));
    });
    row.appendChild(bubble);
    var meta = el('div', 'meta');
    meta.appendChild(el('time', '', clock(new Date(m.at))));
    if (m.direction === 'out') {
      var st = el('span', 'state ' + (m.status || ''), STATUS_TEXT[m.status] || m.status || '');
      meta.appendChild(st);
    }
    row.appendChild(meta);
    if (m.status === 'failed') {
      var fail = el('div', 'failure');
      fail.appendChild(el('span', 'reason', (m.failure && m.failure.reason) || 'The platform did not accept this message.'));
      var again = el('button', 'link retry', 'Send again');
      again.type = 'button';
      again.addEventListener('click', function () {
        retry(m, again);
      });
      fail.appendChild(again);
      row.appendChild(fail);
    }
    return row;
  }

  function renderMessages(toBottom) {
    var box = $('messages');
    var nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    box.textContent = '';
    if (state.nextBefore) {
      var more = el('button', 'link older', 'Load earlier messages');
      more.type = 'button';
      more.addEventListener('click', loadOlder);
      box.appendChild(more);
    }
    if (!state.messages.length) box.appendChild(el('p', 'hint center', 'No messages yet. Say hello below.'));
    var lastDay = '';
    var lastSender = '';
    state.messages.forEach(function (m) {
      var d = new Date(m.at);
      if (dayKey(d) !== lastDay) {
        lastDay = dayKey(d);
        lastSender = '';
        var sep = el('div', 'day', dayLabel(d));
        sep.setAttribute('role', 'separator');
        box.appendChild(sep);
      }
      var who = (m.sender && m.sender.name) || (m.direction === 'out' ? 'You' : '');
      var key = m.direction + ':' + who;
      if (key !== lastSender && who) box.appendChild(el('div', 'sender ' + (m.direction === 'out' ? 'out' : 'in'), who));
      lastSender = key;
      box.appendChild(messageNode(m));
    });
    if (toBottom || nearBottom) box.scrollTop = box.scrollHeight;
  }

  function putMessage(m) {
    for (var i = 0; i < state.messages.length; i++) {
      if (state.messages[i].id === m.id) {
        state.messages[i] = m;
        return;
      }
    }
    state.messages.push(m);
    state.messages.sort(function (a, b) {
      return String(a.at).localeCompare(String(b.at));
    });
  }

  function retry(m, button) {
    button.disabled = true;
    delete state.live[m.id];
    W.api('POST', '/messages/' + encodeURIComponent(m.id) + '/retry', {}).then(
      function (r) {
        if (!state.live[m.id]) putMessage(r.message || Object.assign({}, m, { status: 'queued', failure: undefined }));
        renderMessages(false);
      },
      function (err) {
        button.disabled = false;
        setStatus(err.message, 'err');
      },
    );
  }

  // ---------- composer ----------
  function renderPicked() {
    var box = $('picked');
    box.textContent = '';
    state.picked.forEach(function (f, i) {
      var chip = el('span', 'pick');
      chip.appendChild(el('span', 'file-name', f.name));
      chip.appendChild(el('span', 'file-size', size(f.size)));
      var x = el('button', 'icon small', '×');
      x.type = 'button';
      x.setAttribute('aria-label', 'Remove ' + f.name);
      x.addEventListener('click', function () {
        state.picked.splice(i, 1);
        renderPicked();
      });
      chip.appendChild(x);
      box.appendChild(chip);
    });
    box.hidden = !state.picked.length;
  }

  function autoGrow() {
    var t = $('text');
    t.style.height = 'auto';
    t.style.height = Math.min(t.scrollHeight, 120) + 'px';
  }

  function send(ev) {
    if (ev) ev.preventDefault();
    var id = state.openId;
    var text = $('text').value;
    if (!id || (!text.trim() && !state.picked.length)) return;
    var payload;
    if (state.picked.length) {
      payload = new FormData();
      payload.append('text', text);
      state.picked.forEach(function (f) {
        payload.append('files', f, f.name);
      });
    } else payload = { text: text };
    var button = $('send');
    button.disabled = true;
    setStatus(state.picked.length ? 'Uploading…' : '', '');
    W.api('POST', '/conversations/' + encodeURIComponent(id) + '/messages', payload).then(
      function (r) {
        button.disabled = false;
        setStatus('');
        $('text').value = '';
        autoGrow();
        state.picked = [];
        renderPicked();
        if (state.openId === id && r.message) {
          if (!state.live[r.message.id]) putMessage(r.message);
          renderMessages(true);
        }
      },
      function (err) {
        button.disabled = false;
        // The text and files stay in the composer so nothing typed is lost.
        setStatus(err.message, 'err');
      },
    );
  }

  // ---------- live updates ----------
  var handlers = {
    message: function (d) {
      var c = findConversation(d.conversationId);
      if (!c && !record) {
        loadConversations();
      } else if (c) {
        c.lastActivityAt = d.message.at;
        c.lastMessage = { text: d.message.text, at: d.message.at, direction: d.message.direction };
        sortConversations();
      }
      if (state.openId === d.conversationId) {
        state.live[d.message.id] = true;
        putMessage(d.message);
        renderMessages(false);
        if (d.message.direction === 'in') markRead();
      }
      renderList();
    },
    status: function (d) {
      if (state.openId !== d.conversationId) return;
      state.live[d.messageId] = true;
      for (var i = 0; i < state.messages.length; i++) {
        var m = state.messages[i];
        if (m.id === d.messageId) {
          m.status = d.status;
          m.failure = d.failure;
          renderMessages(false);
          return;
        }
      }
    },
    conversation: function (d) {
      upsertConversation(d.conversation);
      renderList();
      if (state.openId === d.conversation.id) renderThreadHead();
    },
    unread: function (d) {
      setUnread(d.total || 0);
    },
  };

  function refresh() {
    var work = [
      loadConversations(),
      W.api('GET', '/unread').then(function (r) {
        setUnread(r.total || 0);
      }),
    ];
    if (state.openId) {
      var id = state.openId;
      work.push(
        W.api('GET', '/conversations/' + encodeURIComponent(id) + '/messages?limit=50').then(function (r) {
          if (state.openId !== id) return;
          (r.messages || []).forEach(putMessage);
          renderMessages(false);
        }),
      );
    }
    return Promise.all(work);
  }

  // ---------- clocks ----------
  // "Saved … 2 min ago" and list times age; while a transcript is pending, its state is re-read
  // (the stream may also announce it) so the panel says when the note was written.
  function tick() {
    var pending = state.conversations.some(function (c) {
      return c.transcript && c.transcript.pending;
    });
    (pending ? loadConversations() : Promise.resolve())
      .catch(function () {})
      .then(function () {
        renderList();
        if (state.openId) renderThreadHead();
        setTimeout(tick, pending ? 5000 : 30000);
      });
  }

  // ---------- sizes ----------
  var lastHeight = 0;
  function resizePanel() {
    if (surface !== 'panel') return;
    // Panels are 100–750 px high: fit the list, give a thread room to read and write.
    var listHeight = ['start-menu', 'empty'].reduce(function (n, id) {
      return n + ($(id) && !$(id).hidden ? $(id).offsetHeight : 0);
    }, $('conversations').scrollHeight);
    var chrome = document.querySelector('.bar').offsetHeight + ($('status').hidden ? 0 : $('status').offsetHeight);
    var h = state.openId ? 560 : Math.min(750, Math.max(120, chrome + listHeight + 12));
    if (Math.abs(h - lastHeight) < 8) return;
    lastHeight = h;
    W.execute(W.Command.RESIZE, { height: h }).catch(function () {});
  }

  // ---------- start ----------
  $('back').addEventListener('click', showList);
  $('composer').addEventListener('submit', send);
  $('text').addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) send(ev);
  });
  $('text').addEventListener('input', autoGrow);
  $('files').addEventListener('change', function () {
    var files = $('files').files;
    for (var i = 0; i < files.length; i++) state.picked.push(files[i]);
    $('files').value = '';
    renderPicked();
  });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') markRead();
  });
  renderPicked();

  var size0 = surface === 'panel' ? { height: 200 } : { width: 380, height: 560 };
  W.initialize(size0)
    .then(function () {
      if (surface === 'inbox') {
        // The window reports when it is shown or hidden: read receipts only while someone can read.
        W.listen(W.Event.VISIBILITY, function (ev) {
          state.visible = !(ev && ev.data && ev.data.is_visible === false);
          if (state.visible) markRead();
        });
      }
      setStatus('Loading…');
      return W.api('GET', '/me');
    })
    .then(function (me) {
      state.me = me;
      state.channels = {};
      (me.channels || []).forEach(function (c) {
        state.channels[c.id] = c;
      });
      if (record) {
        $('title').textContent = baseTitle = 'Conversations';
        document.title = 'Conversations about this ' + RECORD_NAMES[record.type];
        renderStartMenu();
      }
      renderChannels();
      return refresh();
    })
    .then(function () {
      setStatus('');
      setTimeout(tick, 5000);
      W.stream(
        handlers,
        function () {
          refresh().catch(function () {});
        },
        function (s) {
          if (s === 'reconnecting') setStatus('Reconnecting…', 'warn');
          else setStatus('');
        },
      );
    })
    .catch(function (err) {
      setStatus(err.status === 401 ? 'Your Pipedrive sign-in expired. Reopen this window.' : err.message, 'err');
    });
})();
