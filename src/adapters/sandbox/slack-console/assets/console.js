/* Dormouse sandbox console: the page. Plain browser JavaScript, no build.
 * The server renders every fragment (escaped); this file places them, keeps
 * the selection in the URL hash, listens for changes over SSE and sends what
 * the person does back to /console/*. */
/* global history, URLSearchParams, setTimeout, clearTimeout, setInterval, performance */
(function () {
  'use strict';

  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  var sel = readHash();
  var state = null;
  var modalKey = null;
  var homeKey = null;
  var timelineHtml = null;
  var threadHtml = null;
  var fetching = false;
  var fetchAgain = false;
  var refreshTimer = null;
  var draftTimer = null;

  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    return { user: p.get('user') || '', channel: p.get('channel') || '', thread: p.get('thread') || '', tab: p.get('tab') || '' };
  }

  function writeHash() {
    var p = new URLSearchParams();
    ['user', 'channel', 'thread', 'tab'].forEach(function (k) { if (sel[k]) p.set(k, sel[k]); });
    history.replaceState(null, '', '#' + p.toString());
  }

  function query() {
    var p = new URLSearchParams();
    ['user', 'channel', 'thread', 'tab'].forEach(function (k) { if (sel[k]) p.set(k, sel[k]); });
    return p.toString();
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 30);
  }

  async function refresh() {
    if (fetching) { fetchAgain = true; return; }
    fetching = true;
    try {
      do {
        fetchAgain = false;
        var asked = query();
        var res = await fetch('/console/state?' + asked, { cache: 'no-store' });
        var answer = await res.json();
        // A click (a thread, a channel, a person) while this was in flight makes the answer stale:
        // rendering it would undo the click (an open thread would close again). Ask again instead.
        if (asked !== query()) { fetchAgain = true; continue; }
        state = answer;
        render();
      } while (fetchAgain);
    } catch (e) {
      toast('Lost contact with the console server: ' + e.message);
    } finally {
      fetching = false;
    }
  }

  async function post(path, body) {
    var res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    var json = await res.json().catch(function () { return { ok: false, error: 'HTTP ' + res.status }; });
    if (!json.ok) toast(json.error || 'That did not work');
    scheduleRefresh();
    return json;
  }

  var toastTimer = null;
  function toast(text) {
    var t = $('#toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, 5000);
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function formatTimes(root) {
    $$('time[data-ts]', root).forEach(function (t) {
      var secs = Number(String(t.getAttribute('data-ts')).split('.')[0]);
      var d = new Date(secs * 1000);
      t.textContent = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      t.setAttribute('title', d.toLocaleString());
    });
  }

  function render() {
    var s = state;
    sel.user = s.me.id;
    if (s.me.id !== clockUser) refreshClock(); // the clock shows each person's own zone
    sel.channel = s.channel.kind === 'app' ? 'app' : s.channel.id;
    if (s.channel.kind === 'app') sel.tab = s.channel.tab; else sel.tab = '';
    if (!s.thread) sel.thread = '';
    writeHash();

    // who are you
    var who = $('#who');
    if (who.options.length !== s.users.length) {
      who.textContent = '';
      s.users.forEach(function (u) { who.appendChild(el('option', { value: u.id }, u.name + (u.role ? ' — ' + u.role : ''))); });
    }
    who.value = s.me.id;

    // sidebar
    var channels = $('#channels');
    var apps = $('#apps');
    channels.textContent = '';
    apps.textContent = '';
    s.sidebar.forEach(function (item) {
      var li = el('li');
      var a = el('a', { href: '#', 'data-go': item.kind === 'app' ? 'app' : item.id, 'data-testid': 'sidebar-' + (item.kind === 'app' ? 'app' : item.id) });
      if (item.kind === 'app') {
        a.appendChild(el('span', { class: 'app-dot', 'aria-hidden': 'true' }, 'D'));
        a.appendChild(document.createTextNode(item.label));
      } else {
        a.textContent = item.label;
      }
      if (item.id === s.channel.id) a.setAttribute('aria-current', 'page');
      li.appendChild(a);
      (item.kind === 'app' ? apps : channels).appendChild(li);
    });

    // conversation header and tabs
    $('#conv-title').textContent = s.channel.label;
    var isApp = s.channel.kind === 'app';
    $('#tabs').hidden = !isApp;
    $$('#tabs [data-tab]').forEach(function (b) { b.setAttribute('aria-selected', String(isApp && b.getAttribute('data-tab') === s.channel.tab)); });
    var showHome = isApp && s.channel.tab === 'home';
    $('#home').hidden = !showHome;
    $('#timeline').hidden = showHome;
    $('#composer').hidden = showHome;
    $('#composer-input').setAttribute('placeholder', 'Message ' + s.channel.label + '   (try /server help)');
    $('#composer-input').setAttribute('aria-label', 'Message ' + s.channel.label);

    if (showHome) {
      var key = s.home ? s.home.key : 'none';
      if (key !== homeKey) {
        homeKey = key;
        $('#home').innerHTML = s.home ? s.home.html : '<div class="empty">Dormouse has not published a Home tab yet.</div>';
        formatTimes($('#home'));
      }
    } else {
      homeKey = null;
    }

    // timeline
    var tl = $('#timeline');
    if (s.timeline !== timelineHtml) {
      var atBottom = tl.scrollHeight - tl.scrollTop - tl.clientHeight < 80 || timelineHtml === null;
      timelineHtml = s.timeline;
      tl.innerHTML = s.timeline;
      formatTimes(tl);
      if (atBottom) tl.scrollTop = tl.scrollHeight;
    }

    // thread
    var pane = $('#thread');
    if (s.thread) {
      pane.hidden = false;
      if (s.thread.html !== threadHtml) {
        threadHtml = s.thread.html;
        var body = $('#thread-body');
        body.innerHTML = s.thread.html;
        formatTimes(body);
        body.scrollTop = body.scrollHeight;
      }
    } else {
      pane.hidden = true;
      threadHtml = null;
      $('#thread-body').textContent = '';
    }

    // modal: only redrawn when the view itself changes, so typing is never clobbered
    var root = $('#modal-root');
    if (s.modal) {
      if (s.modal.key !== modalKey) {
        var sameView = modalKey && modalKey.split(':')[0] === s.modal.id;
        // As Slack does on views.update: what the person typed stays in the inputs whose block_id and
        // action_id the new version keeps (the app may redraw the form while they type).
        var typed = sameView ? typedValues(root) : {};
        modalKey = s.modal.key;
        root.innerHTML = s.modal.html;
        restoreTyped(root, typed);
        root.hidden = false;
        if (!sameView) {
          var first = $('[data-input-element]', root);
          if (first && first.focus) first.focus();
        }
      }
    } else {
      modalKey = null;
      root.hidden = true;
      root.textContent = '';
    }

    // problems
    var problems = $('#problems');
    if (s.problems.length) {
      problems.hidden = false;
      problems.textContent = '';
      var head = el('div', { class: 'problems-head' });
      head.appendChild(el('strong', {}, s.problems.length + ' bad call' + (s.problems.length === 1 ? '' : 's') + ' from the bot (Slack would refuse these)'));
      var clear = el('button', { type: 'button', class: 'link-button', 'data-clear-problems': '' }, 'Clear');
      head.appendChild(clear);
      problems.appendChild(head);
      var ul = el('ul');
      s.problems.slice(-20).forEach(function (p) { ul.appendChild(el('li', {}, p)); });
      problems.appendChild(ul);
    } else {
      problems.hidden = true;
    }

    var last = s.lastInteraction;
    if (last) $('#composer-status').textContent = 'Last: ' + last.summary + ' → HTTP ' + (last.status || '—') + ', acked in ' + last.ackMs + ' ms';
  }

  // ------------------------------------------------------------ the sandbox clock

  /**
   * The last reading of the sandbox clock: its time at a moment of this page's own
   * clock, and how fast it runs, so the display runs on between readings. Read again
   * every few seconds, after a jump (an SSE `clock` event, whoever made it) and when
   * the person changes (their zone). Hidden when the console has no clock to move.
   */
  var clock = null;
  var clockUser = null;
  var clockAsked = 0;
  var clockBusy = false;

  async function refreshClock() {
    var asked = ++clockAsked;
    clockUser = sel.user || null;
    try {
      var res = await fetch('/console/clock?user=' + encodeURIComponent(sel.user || ''), { cache: 'no-store' });
      var reading = await res.json();
      if (asked === clockAsked) applyClock(reading);
    } catch {
      /* the next reading tries again; the state refresh says when the server is gone */
    }
  }

  function applyClock(reading) {
    var box = $('#clock');
    var controllable = Boolean(reading && reading.ok && reading.controllable);
    box.hidden = !controllable;
    $('.topbar').classList.toggle('has-clock', controllable);
    if (!controllable) { clock = null; return; }
    clock = { ms: Date.parse(reading.now), at: performance.now(), speed: Number(reading.speed) || 1, zone: reading.zone || '', knowsEvents: Boolean(reading.knowsEvents) };
    drawClock();
  }

  function formatIn(ms, zone, parts) {
    try {
      return new Intl.DateTimeFormat('en-GB', Object.assign({ timeZone: zone }, parts)).format(new Date(ms));
    } catch {
      return new Intl.DateTimeFormat('en-GB', Object.assign({ timeZone: 'UTC' }, parts)).format(new Date(ms));
    }
  }
  var DAY = { weekday: 'short', day: 'numeric', month: 'short' };
  var TIME = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };

  /** `Tue 1 Dec 16:45 UTC · 17:45 Paris` (the person's day too when it is another one), and `×60` when it runs fast. */
  function drawClock() {
    if (!clock) return;
    var ms = clock.ms + (performance.now() - clock.at) * clock.speed;
    var t = $('#clock-time');
    t.textContent = '';
    var utcDay = formatIn(ms, 'UTC', DAY);
    t.appendChild(el('b', {}, utcDay + ' ' + formatIn(ms, 'UTC', TIME)));
    t.appendChild(document.createTextNode(' UTC'));
    var zone = clock.zone;
    if (zone && zone !== 'UTC' && zone !== 'Etc/UTC') {
      var day = formatIn(ms, zone, DAY);
      var place = zone.split('/').pop().replace(/_/g, ' ');
      t.appendChild(el('span', { class: 'clock-zone' }, ' · ' + (day === utcDay ? '' : day + ' ') + formatIn(ms, zone, TIME) + ' ' + place));
    }
    if (clock.speed !== 1) {
      t.appendChild(document.createTextNode(' '));
      t.appendChild(el('span', { class: 'clock-speed', title: 'The sandbox clock runs ' + clock.speed + ' times faster than real time' }, '×' + clock.speed));
    }
    t.setAttribute('title', 'Sandbox time: ' + new Date(ms).toISOString() + (zone ? ' (your time zone: ' + zone + ')' : ''));
  }

  /** +1 hour, Next event, Tomorrow 08:00: the server moves the clock and answers the new time (and a note when it did not move). */
  async function moveClock(action) {
    if (clockBusy) return;
    clockBusy = true;
    var buttons = $$('[data-clock]');
    buttons.forEach(function (b) { b.setAttribute('disabled', ''); });
    try {
      var res = await fetch('/console/clock', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: action, user: sel.user }) });
      var json = await res.json().catch(function () { return { ok: false, error: 'HTTP ' + res.status }; });
      if (!json.ok) { toast(json.error || 'The sandbox clock did not move'); return; }
      clockAsked += 1; // a reading asked before the jump must not draw the time before it
      applyClock(json);
      if (json.note) toast(json.note);
    } catch (e) {
      toast('Lost contact with the console server: ' + e.message);
    } finally {
      clockBusy = false;
      buttons.forEach(function (b) { b.removeAttribute('disabled'); });
    }
  }

  // ------------------------------------------------------------ values

  function controlValue(c) {
    var kind = c.getAttribute('data-el');
    if (kind === 'checkboxes') return $$('input:checked', c).map(function (i) { return i.value; });
    if (kind === 'radio_buttons') { var r = $('input:checked', c); return r ? r.value : null; }
    if (c.tagName === 'SELECT' && c.multiple) return $$('option', c).filter(function (o) { return o.selected; }).map(function (o) { return o.value; });
    if (c.tagName === 'SELECT') return c.value === '' ? null : c.value;
    return c.value === '' ? null : c.value;
  }

  /** A single select set back to its prompt: Slack sends the app nothing for that, so neither does the console. */
  function nothingPicked(c) {
    var kind = c.getAttribute('data-el');
    var single = kind === 'static_select' || kind === 'external_select' || kind === 'radio_buttons';
    return single && controlValue(c) === null;
  }

  /** Text typed in a surface's text inputs, by block_id and action_id. */
  function typedValues(root) {
    var out = {};
    $$('[data-block-id][data-action-id][data-el]', root).forEach(function (c) {
      if (/_input$/.test(c.getAttribute('data-el')) && 'value' in c) out[c.getAttribute('data-block-id') + '\u0000' + c.getAttribute('data-action-id')] = c.value;
    });
    return out;
  }

  function restoreTyped(root, typed) {
    $$('[data-block-id][data-action-id][data-el]', root).forEach(function (c) {
      var key = c.getAttribute('data-block-id') + '\u0000' + c.getAttribute('data-action-id');
      if (Object.prototype.hasOwnProperty.call(typed, key) && 'value' in c) c.value = typed[key];
    });
  }

  function collectValues(root) {
    var values = {};
    $$('[data-block-id][data-action-id][data-el]', root).forEach(function (c) {
      var kind = c.getAttribute('data-el');
      if (kind === 'button' || kind === 'workflow_button' || kind === 'overflow') return;
      var b = c.getAttribute('data-block-id');
      var a = c.getAttribute('data-action-id');
      values[b] = values[b] || {};
      values[b][a] = controlValue(c);
    });
    return values;
  }

  function locationOf(node) {
    var holder = node.closest('[data-location]');
    return holder ? JSON.parse(holder.getAttribute('data-location')) : null;
  }

  function saveDraftSoon() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, 300);
  }

  function saveDraft() {
    var modal = $('#modal-root [data-testid="modal"]');
    if (!modal) return;
    fetch('/console/draft', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: sel.user, viewId: modal.getAttribute('data-view-id'), values: collectValues(modal) }),
    }).catch(function () { /* a lost draft is not worth a toast */ });
  }

  // ------------------------------------------------------------ confirm dialogs

  /** `confirm` holds HTML fragments the server rendered (and escaped), as for messages: mrkdwn shows formatted. */
  function confirmDialog(confirm) {
    return new Promise(function (resolve) {
      var root = $('#confirm-root');
      root.textContent = '';
      var box = el('div', { class: 'modal confirm', role: 'alertdialog', 'aria-modal': 'true', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text', 'data-testid': 'confirm' });
      var head = el('header', { class: 'modal-head' });
      head.appendChild(fragment('h2', { id: 'confirm-title' }, confirm.title));
      box.appendChild(head);
      box.appendChild(fragment('div', { class: 'modal-body', id: 'confirm-text', 'data-testid': 'confirm-text' }, confirm.text));
      var foot = el('footer', { class: 'modal-foot' });
      var deny = fragment('button', { type: 'button', class: 'btn' }, confirm.deny);
      var ok = fragment('button', { type: 'button', class: 'btn ' + (confirm.style === 'danger' ? 'btn-danger' : 'btn-primary') }, confirm.confirm);
      foot.appendChild(deny);
      foot.appendChild(ok);
      box.appendChild(foot);
      root.appendChild(box);
      root.hidden = false;
      ok.focus();
      function done(answer) {
        root.hidden = true;
        root.textContent = '';
        document.removeEventListener('keydown', onKey, true);
        resolve(answer);
      }
      function onKey(ev) { if (ev.key === 'Escape') { ev.stopPropagation(); done(false); } }
      document.addEventListener('keydown', onKey, true);
      deny.addEventListener('click', function () { done(false); });
      ok.addEventListener('click', function () { done(true); });
    });
  }

  /** An element holding a fragment the server rendered. */
  function fragment(tag, attrs, html) {
    var e = el(tag, attrs);
    e.innerHTML = html || '';
    return e;
  }

  // ------------------------------------------------------------ events

  async function sendAction(control, selected) {
    var loc = locationOf(control);
    if (!loc) return;
    var body = {
      user: sel.user,
      location: loc,
      blockId: control.getAttribute('data-block-id'),
      actionId: control.getAttribute('data-action-id'),
    };
    if (selected !== undefined) body.selected = selected;
    if (loc.type === 'view') {
      var surface = control.closest('[data-testid="modal"], [data-testid="app-home"]');
      if (surface) body.values = collectValues(surface);
    }
    return post('/console/action', body);
  }

  document.addEventListener('click', async function (ev) {
    var t = ev.target;
    if (!(t instanceof window.Element)) return;

    if (t.closest('#sidebar-toggle')) return setSidebarOpen(!$('.app').classList.contains('sidebar-open'));
    var clockButton = t.closest('[data-clock]');
    if (clockButton) return moveClock(clockButton.getAttribute('data-clock'));
    if ($('.app').classList.contains('sidebar-open') && !t.closest('.sidebar')) setSidebarOpen(false);

    var go = t.closest('[data-go]');
    if (go) {
      ev.preventDefault();
      setSidebarOpen(false);
      sel.channel = go.getAttribute('data-go');
      sel.thread = '';
      sel.tab = sel.channel === 'app' ? (sel.tab || 'messages') : '';
      timelineHtml = null;
      if (sel.channel === 'app' && sel.tab === 'home') openHome();
      return refresh();
    }
    var tab = t.closest('[data-tab]');
    if (tab) {
      sel.tab = tab.getAttribute('data-tab');
      timelineHtml = null;
      if (sel.tab === 'home') openHome();
      return refresh();
    }
    var threadLink = t.closest('[data-thread]');
    if (threadLink) { sel.thread = threadLink.getAttribute('data-thread'); threadHtml = null; return refresh(); }
    if (t.closest('#thread-close')) { sel.thread = ''; return refresh(); }
    var dismiss = t.closest('[data-dismiss]');
    if (dismiss) return post('/console/dismiss', { user: sel.user, ts: dismiss.getAttribute('data-dismiss') });
    if (t.closest('[data-clear-problems]')) return post('/console/problems/clear', {});
    var close = t.closest('[data-modal-close]');
    if (close) return post('/console/close', { user: sel.user, all: close.getAttribute('data-modal-close') === 'all' });
    var submit = t.closest('[data-modal-submit]');
    if (submit) { ev.preventDefault(); return submitModal(submit); }

    var button = t.closest('[data-el="button"], [data-el="workflow_button"]');
    if (button) {
      ev.preventDefault();
      var confirm = button.getAttribute('data-confirm');
      if (confirm && !(await confirmDialog(JSON.parse(confirm)))) return;
      var url = button.getAttribute('data-url');
      if (url) window.open(url, '_blank', 'noopener');
      button.setAttribute('disabled', '');
      try { await sendAction(button); } finally { button.removeAttribute('disabled'); }
    }
  });

  document.addEventListener('change', function (ev) {
    var t = ev.target;
    if (!(t instanceof window.Element)) return;
    if (t.id === 'who') {
      sel.user = t.value;
      sel.thread = '';
      timelineHtml = null;
      modalKey = null;
      if (sel.channel === 'app' && sel.tab === 'home') openHome();
      return refresh();
    }
    var control = t.closest('[data-el][data-action-id]');
    if (!control) return;
    var kind = control.getAttribute('data-el');
    var input = control.closest('[data-input-block]');
    if (input) {
      saveDraftSoon();
      if (input.hasAttribute('data-dispatch') && !nothingPicked(control)) sendAction(control, controlValue(control) || undefined);
      return;
    }
    var value = controlValue(control);
    if (kind === 'overflow') control.value = '';
    if (value === null || (Array.isArray(value) && value.length === 0 && kind !== 'checkboxes' && kind !== 'multi_static_select')) return;
    sendAction(control, value);
  });

  document.addEventListener('input', function (ev) {
    if (ev.target instanceof window.Element && ev.target.closest('#modal-root')) saveDraftSoon();
  });

  document.addEventListener('submit', function (ev) {
    ev.preventDefault();
    if (ev.target.id === 'composer') return sendComposer();
    if (ev.target.hasAttribute('data-modal-form')) return submitModal($('#modal-root [data-modal-submit]'));
  });

  document.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && !$('#modal-root').hidden && $('#confirm-root').hidden) {
      post('/console/close', { user: sel.user, all: false });
    }
  });

  async function submitModal(button) {
    var modal = $('#modal-root [data-testid="modal"]');
    if (!modal) return;
    clearTimeout(draftTimer);
    if (button) button.setAttribute('disabled', '');
    try {
      await post('/console/submit', { user: sel.user, viewId: modal.getAttribute('data-view-id'), values: collectValues(modal) });
    } finally {
      if (button) button.removeAttribute('disabled');
    }
  }

  /** On a narrow screen the sidebar is a drawer over the conversation, opened by the Channels button. */
  function setSidebarOpen(open) {
    $('.app').classList.toggle('sidebar-open', open);
    $('#sidebar-toggle').setAttribute('aria-expanded', String(open));
  }

  /** Opening the Home tab is an event for the bot (app_home_opened), as in Slack. */
  function openHome() {
    post('/console/home', { user: sel.user });
  }

  var input = $('#composer-input');
  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendComposer();
    }
  });
  input.addEventListener('input', function () {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight, 160) + 'px';
  });

  async function sendComposer() {
    var text = input.value.trim();
    if (!text || !state) return;
    input.value = '';
    input.style.height = 'auto';
    $('#composer-status').textContent = 'Sending ' + text.split(/\s/)[0] + '…';
    await post('/console/command', { user: sel.user, channel: state.channel.id, text: text });
    input.focus();
  }

  window.addEventListener('hashchange', function () {
    sel = readHash();
    timelineHtml = null;
    refresh();
  });

  /**
   * Loading the page is a Slack client starting: the modals and ephemerals of
   * an earlier visit are gone, as in Slack. Only then is the state drawn, so
   * an old modal never flashes up.
   */
  function pageLoaded() {
    return fetch('/console/loaded', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: sel.user }) })
      .catch(function () { /* the first refresh says if the server is gone */ });
  }

  pageLoaded().then(function () {
    var events = new EventSource('/console/events');
    events.addEventListener('change', scheduleRefresh);
    events.addEventListener('hello', scheduleRefresh);
    events.addEventListener('clock', refreshClock);
    refresh();
  });
  setInterval(drawClock, 1000);
  setInterval(refreshClock, 5000);
  input.focus();
})();
