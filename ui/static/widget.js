/*
 * Embeddable chat widget for the knowledge-base API. Plain JS, no build step.
 * One file on purpose (~370 lines): hosts embed it with a single <script> tag, so it
 * cannot import modules of its own; its parts are the sections marked below.
 *
 *   <script src="http://HOST:PORT/widget.js" data-title="知识库助手" data-token="..."></script>
 *
 * Optional attributes: data-title, data-token (sent as a bearer token; visible to
 * anyone who views the page, so treat it as a light guard, not a secret),
 * data-mode (local | openai | extractive), data-k, data-placeholder, data-open="true".
 * data-inline="true" renders the panel full-page without the bubble (used by /embed,
 * which takes the same options from its own query string).
 *
 * Everything lives in a Shadow DOM so the host page's CSS cannot restyle the widget
 * and the widget's CSS cannot leak into the page. All text from the API is inserted
 * with textContent / text nodes, never innerHTML, so document text cannot inject markup.
 *
 * A question sent while an answer streams is queued (shown as 排队中), never dropped;
 * 停止 aborts the request (the server then closes the answer stream and frees the
 * model). The conversation is kept in localStorage (per API address) and survives a
 * reload; 新对话 starts over. The panel is sized to the visual viewport, so on a phone
 * it fits the screen even when the host page is wider than the screen.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  if (!script || window.__ragWidgetLoaded) return;
  window.__ragWidgetLoaded = true;

  // The API lives where this script came from (not the host page's origin), including
  // any path prefix a reverse proxy adds in front of /widget.js.
  var API_BASE = script.src.replace(/\/widget\.js(?:[?#].*)?$/, '');
  var inline = script.getAttribute('data-inline') === 'true';
  var params = inline ? new URLSearchParams(window.location.search) : null;

  function option(name, fallback) {
    var value = script.getAttribute('data-' + name);
    if (params && params.get(name)) value = params.get(name);
    return value === null || value === '' ? fallback : value;
  }

  var config = {
    title: option('title', '知识库助手'),
    token: option('token', ''),
    mode: option('mode', ''),
    k: parseInt(option('k', ''), 10) || null,
    placeholder: option('placeholder', '输入问题，回车发送'),
    open: option('open', 'false') === 'true'
  };
  var HISTORY_MESSAGES = 6;
  var SAVED_TURNS = 20; // each turn keeps its passages' text: enough for a session, small for localStorage
  var STORAGE_KEY = 'rag-widget:' + API_BASE;
  var STOPPED_NOTICE = '已停止生成。以上文字未经引用核对，仅供参考。';

  var CSS = [
    ':host { all: initial; }',
    '*, *::before, *::after { box-sizing: border-box; }',
    '.root { font: 14px/1.6 -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", sans-serif; color: #1f2937; }',
    '.bubble { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%; border: none; cursor: pointer; display: flex; align-items: center; justify-content: center;',
    '  background: #2563eb; color: #fff; font-size: 26px; box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483000; }',
    '.bubble:hover { background: #1d4ed8; }',
    '.panel { position: fixed; right: 20px; bottom: 88px; width: 380px; height: 560px; max-width: calc(100vw - 40px); max-height: calc(100vh - 110px);',
    '  display: flex; flex-direction: column; background: #fff; border-radius: 12px; overflow: hidden;',
    '  box-shadow: 0 10px 30px rgba(0,0,0,.25); z-index: 2147483000; }',
    '.panel[hidden] { display: none; }',
    '.inline .panel { position: static; width: 100%; height: 100vh; max-width: none; max-height: none; border-radius: 0; box-shadow: none; }',
    'header { display: flex; align-items: center; gap: 8px; padding: 10px 14px; background: #2563eb; color: #fff; }',
    'header .title { flex: 1; font-weight: 600; font-size: 15px; }',
    'header button { background: transparent; border: none; color: #fff; cursor: pointer; font: inherit; padding: 2px 6px; border-radius: 4px; }',
    'header button:hover { background: rgba(255,255,255,.18); }',
    '.messages { flex: 1; overflow-y: auto; padding: 12px; background: #f8fafc; }',
    '.msg { margin: 0 0 12px; padding: 8px 11px; border-radius: 10px; max-width: 92%; white-space: pre-wrap; word-break: break-word; }',
    '.msg.user { margin-left: auto; background: #dbeafe; }',
    '.msg.assistant { background: #fff; border: 1px solid #e5e7eb; }',
    '.msg.welcome { color: #6b7280; }',
    '.msg .pending { color: #9ca3af; }',
    '.cite { border: none; background: #e0e7ff; color: #1e40af; border-radius: 4px; padding: 0 3px; margin: 0 1px; cursor: pointer; font: inherit; font-size: 12px; }',
    '.cite:hover, .cite.active { background: #1e40af; color: #fff; }',
    '.notice { margin-top: 8px; padding: 6px 8px; border-left: 3px solid #f59e0b; background: #fffbeb; border-radius: 4px; font-size: 13px; white-space: normal; }',
    '.error { color: #b91c1c; }',
    '.sources { margin-top: 8px; border-top: 1px dashed #e5e7eb; padding-top: 6px; white-space: normal; }',
    '.sources .label { font-size: 12px; color: #6b7280; }',
    '.source { display: block; width: 100%; text-align: left; border: none; background: none; cursor: pointer; font: inherit; font-size: 12px;',
    '  color: #374151; padding: 2px 0; }',
    '.source:hover { color: #1e40af; text-decoration: underline; }',
    '.passage { position: relative; margin-top: 6px; padding: 8px; background: #f1f5f9; border-radius: 6px; font-size: 13px; white-space: pre-wrap; max-height: 220px; overflow-y: auto; }',
    '.passage[hidden] { display: none; }',
    '.passage .meta { font-size: 12px; color: #6b7280; margin-bottom: 4px; white-space: normal; }',
    '.passage mark { background: #fde68a; color: inherit; }',
    'form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e5e7eb; background: #fff; }',
    'textarea { flex: 1; resize: none; border: 1px solid #d1d5db; border-radius: 8px; padding: 7px 9px; font: inherit; height: 38px; }',
    'textarea:focus { outline: 2px solid #93c5fd; border-color: #2563eb; }',
    'form button { border: none; background: #2563eb; color: #fff; border-radius: 8px; padding: 0 14px; cursor: pointer; font: inherit; }',
    'form button:disabled { background: #93c5fd; cursor: default; }',
    'form button.stop { background: #dc2626; }',
    'form button[hidden] { display: none; }',
    '.tag { font-size: 11px; color: #6b7280; margin-left: 6px; }',
    '.source .where { display: block; font-size: 11px; color: #6b7280; }',
    '.source.uncited { opacity: .5; }',
    '.source.uncited:hover { opacity: .85; }',
    '.sources.pending .label { color: #2563eb; }',
    '.actions { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; white-space: normal; }',
    '.actions button, .fb button { border: 1px solid #e5e7eb; background: #fff; color: #374151; border-radius: 6px; padding: 1px 8px; cursor: pointer; font: inherit; font-size: 12px; }',
    '.actions button:hover, .fb button:hover { background: #eff6ff; }',
    '.actions button.chosen { background: #dbeafe; border-color: #93c5fd; }',
    '.fb { margin-top: 6px; white-space: normal; }',
    '.fb textarea { width: 100%; height: 48px; font-size: 13px; }',
    '.fb .row { display: flex; gap: 6px; margin-top: 4px; align-items: center; }',
    '.fb .done { font-size: 12px; color: #15803d; }',
    '.fb .failed { font-size: 12px; color: #b91c1c; }',
    '.token { padding: 10px; border-top: 1px solid #e5e7eb; background: #fffbeb; font-size: 13px; }',
    '.token[hidden] { display: none; }',
    '.token input { width: 100%; margin: 4px 0; padding: 5px 7px; border: 1px solid #d1d5db; border-radius: 6px; font: inherit; }',
    '.token button { border: none; background: #2563eb; color: #fff; border-radius: 6px; padding: 3px 12px; cursor: pointer; font: inherit; }'
  ].join('\n');

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Wrap the supporting sentences in <mark>. The server sends their offsets
  // (item.highlight_spans, [start, end] pairs into item.text) so the widget never
  // re-splits sentences. The offsets count code points (Python str indices), not the
  // UTF-16 units of a JS string, hence the slicing of Array.from(text).
  function highlightInto(container, text, spans) {
    var chars = Array.from(text);
    var merged = [];
    (spans || []).slice().sort(function (a, b) { return a[0] - b[0]; }).forEach(function (s) {
      var last = merged[merged.length - 1];
      if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]); else merged.push([s[0], s[1]]);
    });
    var pos = 0;
    merged.forEach(function (s) {
      container.appendChild(document.createTextNode(chars.slice(pos, s[0]).join('')));
      container.appendChild(el('mark', null, chars.slice(s[0], s[1]).join('')));
      pos = s[1];
    });
    container.appendChild(document.createTextNode(chars.slice(pos).join('')));
  }

  // ------------------------------------------------------------------ API
  // A token typed into the widget's own prompt (when the page gave none and the server
  // asked for one) lives for this browser tab only.
  var TOKEN_KEY = 'rag-widget-token:' + API_BASE;
  function token() {
    if (config.token) return config.token;
    try { return window.sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  function headers() {
    var h = { 'Content-Type': 'application/json', 'Accept': 'text/event-stream' };
    var t = token();
    if (t) h['Authorization'] = 'Bearer ' + t;
    return h;
  }

  async function errorMessage(response) {
    try {
      var body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    return '请求失败 (HTTP ' + response.status + ')';
  }

  function failure(message, status) {
    var error = new Error(message);
    error.status = status;
    return error;
  }

  // fetch() rejects with a bare TypeError ("Failed to fetch") when the server is down or
  // its CORS settings do not allow this page; say which, and what to change.
  function networkMessage() {
    return '无法连接知识库服务 ' + API_BASE + '：服务未启动，或本页来源 ' + window.location.origin +
      ' 不在服务器的 RAG_CORS_ORIGINS 中（请管理员添加） (network error or origin not allowed)';
  }

  async function post(path, body, signal) {
    try {
      return await fetch(API_BASE + path, {
        method: 'POST', headers: headers(), body: JSON.stringify(body), mode: 'cors', credentials: 'omit', signal: signal
      });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      throw failure(networkMessage(), 0);
    }
  }

  // POST /api/ask/stream and parse the server-sent events by hand: EventSource
  // cannot POST or send an Authorization header. Events: "sources" (the retrieved
  // passages, before the model writes), "token", one "final", or an in-band "error".
  async function askStream(body, on, signal) {
    var response = await post('/api/ask/stream', body, signal);
    if (!response.ok) throw failure(await errorMessage(response), response.status);
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    var result = null;
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r/g, '');
      var cut;
      while ((cut = buffer.indexOf('\n\n')) !== -1) {
        var frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        var data = frame.split('\n').filter(function (line) { return line.indexOf('data:') === 0; })
          .map(function (line) { return line.slice(5).replace(/^ /, ''); }).join('\n');
        if (!data) continue; // comments (keep-alive pings)
        var event = JSON.parse(data);
        if (event.type === 'sources') on.sources(event.passages || []);
        else if (event.type === 'token') on.token(event.text);
        else if (event.type === 'final') result = event.result;
        else if (event.type === 'error') throw new Error(event.error.message);
      }
    }
    if (!result) throw new Error('连接中断，请重试 (stream ended early)');
    return result;
  }

  // ------------------------------------------------------------------ UI
  var host = document.createElement('rag-chat-widget');
  // Inline "all: initial" beats the page's own rules on the host element itself.
  host.setAttribute('style', 'all: initial;' + (inline ? ' display: block;' : ''));
  var shadow = host.attachShadow({ mode: 'open' });
  var style = el('style');
  style.textContent = CSS;
  var root = el('div', 'root' + (inline ? ' inline' : ''));
  shadow.appendChild(style);
  shadow.appendChild(root);

  var bubble = el('button', 'bubble');
  bubble.type = 'button';
  // An SVG, not an emoji: many systems lack a colour emoji font.
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var icon = document.createElementNS(SVG_NS, 'svg');
  icon.setAttribute('viewBox', '0 0 24 24');
  icon.setAttribute('width', '28');
  icon.setAttribute('height', '28');
  var path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z');
  icon.appendChild(path);
  bubble.appendChild(icon);
  bubble.setAttribute('aria-label', '打开' + config.title);
  bubble.title = config.title;

  var panel = el('div', 'panel');
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', config.title);
  var header = el('header');
  header.appendChild(el('span', 'title', config.title));
  var clearButton = el('button', 'clear', '新对话');
  clearButton.type = 'button';
  clearButton.title = '开始新对话（清除本页保存的对话）';
  header.appendChild(clearButton);
  var closeButton = el('button', 'close', '×');
  closeButton.type = 'button';
  closeButton.setAttribute('aria-label', '关闭');
  if (!inline) header.appendChild(closeButton);

  var messages = el('div', 'messages');
  messages.setAttribute('aria-live', 'polite');
  var tokenBox = el('div', 'token');
  tokenBox.hidden = true;
  tokenBox.appendChild(el('div', null, '知识库需要访问令牌，请输入管理员提供的令牌：'));
  var tokenInput = el('input');
  tokenInput.type = 'password';
  tokenInput.setAttribute('aria-label', '访问令牌');
  var tokenSave = el('button', null, '保存');
  tokenSave.type = 'button';
  tokenBox.appendChild(tokenInput);
  tokenBox.appendChild(tokenSave);
  var form = el('form');
  var input = el('textarea');
  input.placeholder = config.placeholder;
  input.setAttribute('aria-label', '问题');
  var sendButton = el('button', 'send', '发送');
  sendButton.type = 'submit';
  var stopButton = el('button', 'stop', '停止');
  stopButton.type = 'button';
  stopButton.hidden = true;
  stopButton.title = '停止生成当前回答';
  form.appendChild(input);
  form.appendChild(sendButton);
  form.appendChild(stopButton);
  panel.appendChild(header);
  panel.appendChild(messages);
  panel.appendChild(tokenBox);
  panel.appendChild(form);
  if (!inline) root.appendChild(bubble);
  root.appendChild(panel);

  // turns: {question, result} | {question, error} | {question, stopped: true, partial}
  var turns = [];
  var queue = []; // {question, node}: sent while an answer streamed, asked in order
  var busy = false;
  var controller = null;
  var indexVersion = null;
  var epoch = 0; // bumped by 新对话: an answer of the old conversation then lands nowhere

  function save() {
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(turns.slice(-SAVED_TURNS)));
    } catch (e) { /* storage full or disabled: the conversation just is not kept */ }
  }

  function restore() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || '[]');
      if (Array.isArray(saved)) {
        turns = saved.filter(function (t) { return t && typeof t.question === 'string'; }).slice(-SAVED_TURNS);
      }
    } catch (e) { turns = []; }
  }

  function historyMessages() {
    var h = [];
    turns.forEach(function (t) {
      if (!t.result) return; // failed and stopped answers are not context for a follow-up
      h.push({ role: 'user', content: t.question });
      h.push({ role: 'assistant', content: String(t.result.answer || '') });
    });
    return h.slice(-HISTORY_MESSAGES);
  }

  function welcome() {
    messages.textContent = '';
    messages.appendChild(el('div', 'msg assistant welcome', '你好！请输入问题，我会根据知识库回答并注明出处。'));
  }

  function setOpen(open) {
    panel.hidden = !open;
    bubble.setAttribute('aria-expanded', String(open));
    if (open) { fitViewport(); input.focus(); }
  }

  function scrollDown() { messages.scrollTop = messages.scrollHeight; }

  // ---------------------------------------------------------------- mobile sizing
  // position: fixed places the panel in the layout viewport, which on a phone is as
  // wide as a wide host page; the screen shows only the visual viewport. Size and
  // place the panel (and the bubble) in the visual viewport instead, so 关闭 and 发送
  // are always on screen.
  function fitViewport() {
    if (inline) return;
    var vv = window.visualViewport;
    var vw = vv ? vv.width : window.innerWidth;
    var vh = vv ? vv.height : window.innerHeight;
    var left = vv ? vv.offsetLeft : 0;
    var top = vv ? vv.offsetTop : 0;
    var small = vw < 520;
    var width = small ? vw : Math.min(380, vw - 40);
    var height = small ? vh : Math.min(560, vh - 110);
    panel.style.left = (left + (small ? 0 : vw - width - 20)) + 'px';
    panel.style.top = (top + (small ? 0 : vh - height - 88)) + 'px';
    panel.style.right = 'auto';
    panel.style.bottom = 'auto';
    panel.style.width = width + 'px';
    panel.style.height = height + 'px';
    panel.style.maxWidth = 'none';
    panel.style.maxHeight = 'none';
    panel.style.borderRadius = small ? '0' : '';
    bubble.style.left = (left + vw - 76) + 'px';
    bubble.style.top = (top + vh - 76) + 'px';
    bubble.style.right = 'auto';
    bubble.style.bottom = 'auto';
  }

  // ---------------------------------------------------------------- rendering
  function renderPassage(box, item) {
    box.textContent = '';
    var meta = [item.title, item.section, item.file].filter(Boolean).join(' · ');
    box.appendChild(el('div', 'meta', meta));
    var body = el('div');
    highlightInto(body, String(item.text || ''), item.highlight_spans);
    box.appendChild(body);
  }

  function where(item) { return [item.file, item.section].filter(Boolean).join(' · '); }

  // One entry per title: passages of one article share it, and a list naming it three
  // times tells the reader nothing.
  function uniqueByTitle(items) {
    var seen = {};
    return items.filter(function (item) {
      var key = item.title || item.file || '';
      if (seen[key]) return false;
      seen[key] = true;
      return true;
    });
  }

  function sourceRow(label, item, className, onClick) {
    var row = el('button', 'source' + (className ? ' ' + className : ''));
    row.type = 'button';
    row.appendChild(document.createTextNode(label + (item.title || item.file || '')));
    var place = where(item);
    if (place) row.appendChild(el('span', 'where', place));
    row.addEventListener('click', onClick);
    return row;
  }

  // While the answer is written: what retrieval found.
  function renderRetrieved(reply, passages) {
    var old = reply.querySelector('.sources.pending');
    if (old) old.remove();
    if (!passages.length) return;
    var list = el('div', 'sources pending');
    list.appendChild(el('div', 'label', '已检索到 ' + passages.length + ' 个段落，正在生成回答…'));
    var passage = el('div', 'passage');
    passage.hidden = true;
    uniqueByTitle(passages).forEach(function (item) {
      list.appendChild(sourceRow('· ', item, '', function () {
        renderPassage(passage, item);
        passage.hidden = !passage.hidden;
      }));
    });
    list.appendChild(passage);
    reply.appendChild(list);
  }

  // Answer text with every [n] turned into a button that shows passage n below.
  function renderAnswer(bubbleNode, result, turn) {
    bubbleNode.textContent = '';
    var answer = el('div', 'answer');
    var byN = {};
    (result.citations || []).forEach(function (c) { byN[c.n] = c; });
    var passage = el('div', 'passage');
    passage.hidden = true;
    var shown = null;

    function show(n, trigger) {
      var item = byN[n];
      if (!item) return;
      bubbleNode.querySelectorAll('.cite.active').forEach(function (b) { b.classList.remove('active'); });
      if (shown === n) { passage.hidden = true; shown = null; return; }
      renderPassage(passage, item);
      passage.hidden = false;
      shown = n;
      if (trigger) trigger.classList.add('active');
      var mark = passage.querySelector('mark');
      if (mark) passage.scrollTop = Math.max(0, mark.offsetTop - 40);
      passage.scrollIntoView({ block: 'nearest' });
    }

    function toggle(item) {
      shown = null;
      renderPassage(passage, item);
      passage.hidden = !passage.hidden;
    }

    var text = String(result.answer || '');
    var re = /\[(\d{1,3})\]/g;
    var pos = 0;
    var match;
    while ((match = re.exec(text)) !== null) {
      answer.appendChild(document.createTextNode(text.slice(pos, match.index)));
      var n = parseInt(match[1], 10);
      if (byN[n]) {
        var button = el('button', 'cite', '[' + n + ']');
        button.type = 'button';
        button.setAttribute('data-n', String(n));
        button.addEventListener('click', (function (num) { return function (e) { show(num, e.currentTarget); }; })(n));
        answer.appendChild(button);
      } else {
        answer.appendChild(document.createTextNode(match[0]));
      }
      pos = re.lastIndex;
    }
    answer.appendChild(document.createTextNode(text.slice(pos)));
    bubbleNode.appendChild(answer);

    if (result.refused) {
      bubbleNode.appendChild(el('div', 'notice refusal', '知识库中没有找到能回答这个问题的资料。'));
    }
    if (result.notice) bubbleNode.appendChild(el('div', 'notice fallback', result.notice));

    var sources = el('div', 'sources');
    if (result.refused) {
      var related = uniqueByTitle(result.related || []);
      if (related.length) {
        sources.appendChild(el('div', 'label', '可能相关的资料：'));
        related.forEach(function (item, i) {
          sources.appendChild(sourceRow((i + 1) + '. ', item, '', function () { toggle(item); }));
        });
      }
    } else {
      var cited = result.citations || [];
      var citedIds = {};
      cited.forEach(function (c) { citedIds[c.chunk_id] = true; });
      if (cited.length) sources.appendChild(el('div', 'label', '来源：'));
      cited.forEach(function (item) {
        sources.appendChild(sourceRow('[' + item.n + '] ', item, 'cited', function () {
          show(item.n, bubbleNode.querySelector('.cite[data-n="' + item.n + '"]'));
        }));
      });
      // The other retrieved passages, dimmed: what was found but not used.
      var rest = (result.retrieved || []).filter(function (p) { return !citedIds[p.chunk_id]; });
      if (rest.length) sources.appendChild(el('div', 'label', '其余检索到的段落（未被引用）：'));
      rest.forEach(function (item) {
        sources.appendChild(sourceRow('· ', item, 'uncited', function () { toggle(item); }));
      });
    }
    if (sources.childNodes.length) bubbleNode.appendChild(sources);
    bubbleNode.appendChild(passage);
    bubbleNode.appendChild(actions(result, turn));
  }

  // ---------------------------------------------------------------- copy, feedback, regenerate
  function copyText(text) {
    // navigator.clipboard needs a secure context (https or localhost); intranet pages
    // are often plain http, where only the old execCommand path works.
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('style', 'position:fixed;top:0;left:0;opacity:0;');
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error('copy failed'));
  }

  function answerText(result) {
    var lines = [String(result.answer || '')];
    var cited = result.citations || [];
    if (cited.length) {
      lines.push('', '来源：');
      cited.forEach(function (c) { lines.push('[' + c.n + '] ' + (c.title || c.file || '') + (where(c) ? '（' + where(c) + '）' : '')); });
    }
    return lines.join('\n');
  }

  async function sendFeedback(turn, rating, comment) {
    var result = turn.result;
    var body = {
      rating: rating,
      question: turn.question,
      answer: String(result.answer || ''),
      citations: (result.citations || []).map(function (c) {
        return { n: c.n, file: c.file, title: c.title, section: c.section, chunk_id: c.chunk_id, text: c.text };
      }),
      comment: comment,
      index_version: result.index_version || indexVersion || null,
      mode: result.mode || null,
      refused: !!result.refused,
      source: 'widget'
    };
    var response = await post('/api/feedback', body);
    if (!response.ok) throw failure(await errorMessage(response), response.status);
  }

  function thumb(down) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '12');
    svg.setAttribute('height', '12');
    if (down) svg.setAttribute('transform', 'rotate(180)');
    var p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('fill', 'currentColor');
    p.setAttribute('d', 'M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z');
    svg.appendChild(p);
    return svg;
  }

  function actions(result, turn) {
    var bar = el('div', 'actions');
    var copy = el('button', 'copy', '复制');
    copy.type = 'button';
    copy.title = '复制回答和来源';
    copy.addEventListener('click', function () {
      copyText(answerText(result)).then(function () { copy.textContent = '已复制'; },
        function () { copy.textContent = '复制失败'; });
      setTimeout(function () { copy.textContent = '复制'; }, 2000);
    });
    bar.appendChild(copy);

    var form = null;
    [['up', '有帮助'], ['down', '没帮助']].forEach(function (spec) {
      // 👍/👎 drawn as SVG with a word beside them: emoji fonts are missing on many systems.
      var b = el('button', 'rate ' + spec[0]);
      b.type = 'button';
      b.appendChild(thumb(spec[0] === 'down'));
      b.appendChild(document.createTextNode(' ' + spec[1]));
      b.title = spec[1];
      b.addEventListener('click', function () {
        bar.querySelectorAll('.rate').forEach(function (x) { x.classList.remove('chosen'); });
        b.classList.add('chosen');
        if (form) form.remove();
        form = feedbackForm(turn, spec[0]);
        bar.parentNode.insertBefore(form, bar.nextSibling);
        form.querySelector('textarea').focus();
      });
      bar.appendChild(b);
    });

    var regen = el('button', 'regen', '重新生成');
    regen.type = 'button';
    regen.title = '重新回答这个问题';
    regen.addEventListener('click', function () {
      if (busy || turns[turns.length - 1] !== turn) return;
      turns.pop();
      save();
      renderAll();
      ask(turn.question);
    });
    bar.appendChild(regen);
    return bar;
  }

  function feedbackForm(turn, rating) {
    var box = el('div', 'fb');
    var comment = el('textarea');
    comment.placeholder = '可选：补充说明（哪里好、哪里不对）';
    comment.setAttribute('aria-label', '反馈说明');
    comment.maxLength = 2000;
    var row = el('div', 'row');
    var submit = el('button', 'submit', '提交反馈');
    submit.type = 'button';
    var cancel = el('button', 'cancel', '取消');
    cancel.type = 'button';
    var state = el('span');
    row.appendChild(submit);
    row.appendChild(cancel);
    row.appendChild(state);
    box.appendChild(comment);
    box.appendChild(row);
    cancel.addEventListener('click', function () { box.remove(); });
    submit.addEventListener('click', function () {
      submit.disabled = true;
      sendFeedback(turn, rating, comment.value.trim()).then(function () {
        box.textContent = '';
        box.appendChild(el('span', 'done', '感谢反馈！'));
        box.setAttribute('data-state', 'sent');
      }, function (err) {
        submit.disabled = false;
        state.className = 'failed';
        state.textContent = '反馈发送失败：' + (err && err.message ? err.message : String(err));
        if (err && err.status === 401) askForToken();
      });
    });
    return box;
  }

  // ---------------------------------------------------------------- turns
  function renderStopped(reply, partial) {
    reply.textContent = '';
    if (partial) reply.appendChild(el('div', 'answer', partial));
    reply.appendChild(el('div', 'notice stopped', STOPPED_NOTICE));
    reply.setAttribute('data-state', 'stopped');
  }

  function renderError(reply, message) {
    reply.textContent = '';
    reply.appendChild(el('span', 'error', '出错了：' + message));
    reply.setAttribute('data-state', 'error');
  }

  function renderTurn(turn) {
    messages.appendChild(el('div', 'msg user', turn.question));
    var reply = el('div', 'msg assistant');
    messages.appendChild(reply);
    if (turn.result) {
      renderAnswer(reply, turn.result, turn);
      reply.setAttribute('data-state', 'done');
    } else if (turn.stopped) {
      renderStopped(reply, turn.partial || '');
    } else {
      renderError(reply, turn.error || '未知错误');
    }
  }

  // Only the last answer can be regenerated.
  function markLast() {
    var buttons = messages.querySelectorAll('.regen');
    buttons.forEach(function (b, i) { b.hidden = i !== buttons.length - 1 || busy; });
  }

  function renderAll() {
    welcome();
    turns.forEach(renderTurn);
    queue.forEach(function (q) { messages.appendChild(q.node); });
    markLast();
    scrollDown();
  }

  function setBusy(value) {
    busy = value;
    stopButton.hidden = !value;
    sendButton.textContent = value ? '排队发送' : '发送';
    sendButton.title = value ? '当前回答结束后自动发送' : '';
    markLast();
  }

  async function ask(question, userNode) {
    setBusy(true);
    if (userNode) {
      var tag = userNode.querySelector('.tag');
      if (tag) tag.remove();
    } else {
      messages.appendChild(el('div', 'msg user', question));
    }
    var reply = el('div', 'msg assistant');
    var pending = el('span', 'pending', '正在检索…');
    reply.appendChild(pending);
    if (userNode && userNode.nextSibling) messages.insertBefore(reply, userNode.nextSibling);
    else messages.appendChild(reply);
    scrollDown();
    var streamed = '';
    var streamedNode = null;
    var body = { question: question, history: historyMessages() };
    if (config.mode) body.mode = config.mode;
    if (config.k) body.k = config.k;
    controller = new AbortController();
    var mine = epoch;
    var turn = { question: question };
    try {
      var result = await askStream(body, {
        sources: function (passages) {
          pending.textContent = '正在生成回答…';
          renderRetrieved(reply, passages);
          scrollDown();
        },
        token: function (text) {
          streamed += text;
          if (!streamedNode) {
            streamedNode = el('div', 'answer streaming');
            reply.insertBefore(streamedNode, reply.firstChild);
            pending.remove();
          }
          streamedNode.textContent = streamed;
          scrollDown();
        }
      }, controller.signal);
      turn.result = result;
      renderAnswer(reply, result, turn);
      reply.setAttribute('data-state', 'done');
    } catch (err) {
      if (err && err.name === 'AbortError') {
        turn.stopped = true;
        turn.partial = streamed;
        renderStopped(reply, streamed);
      } else {
        turn.error = err && err.message ? err.message : String(err);
        renderError(reply, turn.error);
        if (err && err.status === 401) askForToken();
      }
    } finally {
      controller = null;
      if (mine === epoch) {
        turns.push(turn);
        save();
      }
      setBusy(false);
      scrollDown();
      next();
    }
  }

  function next() {
    if (busy || !queue.length) return;
    var item = queue.shift();
    ask(item.question, item.node);
  }

  function submit(question) {
    if (!busy) { ask(question); return; }
    // Never dropped: shown at once, asked when the current answer is done.
    var node = el('div', 'msg user', question);
    node.appendChild(el('span', 'tag', '排队中'));
    node.setAttribute('data-queued', 'true');
    messages.appendChild(node);
    queue.push({ question: question, node: node });
    scrollDown();
  }

  // ---------------------------------------------------------------- token prompt
  function askForToken() {
    if (config.token) return; // the page set it: a wrong one is for the page's owner to fix
    tokenBox.hidden = false;
    tokenInput.focus();
  }

  tokenSave.addEventListener('click', function () {
    var value = tokenInput.value.trim();
    if (!value) return;
    try { window.sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { config.token = value; }
    tokenInput.value = '';
    tokenBox.hidden = true;
    input.focus();
  });

  // The index version recorded with feedback: best effort (with a token /healthz says it).
  function loadIndexVersion() {
    var h = {};
    var t = token();
    if (t) h['Authorization'] = 'Bearer ' + t;
    fetch(API_BASE + '/healthz', { headers: h, mode: 'cors', credentials: 'omit' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body && body.index_version) indexVersion = body.index_version; })
      .catch(function () { /* not needed to answer */ });
  }

  // ---------------------------------------------------------------- events
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question) return;
    input.value = '';
    submit(question);
  });
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });
  // Aborting the fetch closes the connection: the server stops the answer stream and
  // frees the model for the next question.
  stopButton.addEventListener('click', function () { if (controller) controller.abort(); });
  bubble.addEventListener('click', function () { setOpen(panel.hidden); });
  closeButton.addEventListener('click', function () { setOpen(false); });
  clearButton.addEventListener('click', function () {
    epoch += 1;
    queue = [];
    if (controller) controller.abort();
    turns = [];
    save();
    renderAll();
  });

  restore();
  renderAll();
  loadIndexVersion();
  panel.hidden = !(inline || config.open);
  if (window.visualViewport) {
    window.visualViewport.addEventListener('resize', fitViewport);
    window.visualViewport.addEventListener('scroll', fitViewport);
  }
  window.addEventListener('resize', fitViewport);

  function mount() { document.body.appendChild(host); fitViewport(); }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
