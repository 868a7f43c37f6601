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
    'form button:disabled { background: #93c5fd; cursor: default; }'
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
  function headers() {
    var h = { 'Content-Type': 'application/json', 'Accept': 'text/event-stream' };
    if (config.token) h['Authorization'] = 'Bearer ' + config.token;
    return h;
  }

  async function errorMessage(response) {
    try {
      var body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    return '请求失败 (HTTP ' + response.status + ')';
  }

  // POST /api/ask/stream and parse the server-sent events by hand: EventSource
  // cannot POST or send an Authorization header.
  async function askStream(body, onToken) {
    var response = await fetch(API_BASE + '/api/ask/stream', {
      method: 'POST', headers: headers(), body: JSON.stringify(body), mode: 'cors', credentials: 'omit'
    });
    if (!response.ok) throw new Error(await errorMessage(response));
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
        if (event.type === 'token') onToken(event.text);
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
  var clearButton = el('button', 'clear', '清空');
  clearButton.type = 'button';
  clearButton.title = '清空对话';
  header.appendChild(clearButton);
  var closeButton = el('button', 'close', '×');
  closeButton.type = 'button';
  closeButton.setAttribute('aria-label', '关闭');
  if (!inline) header.appendChild(closeButton);

  var messages = el('div', 'messages');
  messages.setAttribute('aria-live', 'polite');
  var form = el('form');
  var input = el('textarea');
  input.placeholder = config.placeholder;
  input.setAttribute('aria-label', '问题');
  var sendButton = el('button', 'send', '发送');
  sendButton.type = 'submit';
  form.appendChild(input);
  form.appendChild(sendButton);
  panel.appendChild(header);
  panel.appendChild(messages);
  panel.appendChild(form);
  if (!inline) root.appendChild(bubble);
  root.appendChild(panel);

  var history = [];
  var busy = false;

  function welcome() {
    messages.textContent = '';
    messages.appendChild(el('div', 'msg assistant welcome', '你好！请输入问题，我会根据知识库回答并注明出处。'));
  }

  function setOpen(open) {
    panel.hidden = !open;
    bubble.setAttribute('aria-expanded', String(open));
    if (open) input.focus();
  }

  function scrollDown() { messages.scrollTop = messages.scrollHeight; }

  function renderPassage(box, item) {
    box.textContent = '';
    var meta = [item.title, item.section, item.file].filter(Boolean).join(' · ');
    box.appendChild(el('div', 'meta', meta));
    var body = el('div');
    highlightInto(body, String(item.text || ''), item.highlight_spans);
    box.appendChild(body);
  }

  // Answer text with every [n] turned into a button that shows passage n below.
  function renderAnswer(bubbleNode, result) {
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
      var refusal = el('div', 'notice refusal', '知识库中没有找到能回答这个问题的资料。');
      bubbleNode.appendChild(refusal);
    }
    if (result.notice) bubbleNode.appendChild(el('div', 'notice fallback', result.notice));

    var list = result.refused ? (result.related || []) : (result.citations || []);
    if (list.length) {
      var sources = el('div', 'sources');
      sources.appendChild(el('div', 'label', result.refused ? '可能相关的资料：' : '来源：'));
      list.forEach(function (item, i) {
        var label = result.refused ? (i + 1) + '. ' : '[' + item.n + '] ';
        var row = el('button', 'source', label + (item.title || item.file || ''));
        row.type = 'button';
        row.addEventListener('click', function () {
          if (result.refused) {
            renderPassage(passage, item);
            passage.hidden = !passage.hidden;
          } else {
            show(item.n, bubbleNode.querySelector('.cite[data-n="' + item.n + '"]'));
          }
        });
        sources.appendChild(row);
      });
      bubbleNode.appendChild(sources);
    }
    bubbleNode.appendChild(passage);
  }

  async function ask(question) {
    busy = true;
    sendButton.disabled = true;
    messages.appendChild(el('div', 'msg user', question));
    var reply = el('div', 'msg assistant');
    reply.appendChild(el('span', 'pending', '正在检索…'));
    messages.appendChild(reply);
    scrollDown();
    var streamed = '';
    var body = { question: question, history: history.slice(-HISTORY_MESSAGES) };
    if (config.mode) body.mode = config.mode;
    if (config.k) body.k = config.k;
    try {
      var result = await askStream(body, function (token) {
        streamed += token;
        reply.textContent = streamed;
        scrollDown();
      });
      renderAnswer(reply, result);
      reply.setAttribute('data-state', 'done');
      history.push({ role: 'user', content: question });
      history.push({ role: 'assistant', content: String(result.answer || '') });
    } catch (err) {
      reply.textContent = '';
      reply.appendChild(el('span', 'error', '出错了：' + (err && err.message ? err.message : String(err))));
      reply.setAttribute('data-state', 'error');
    } finally {
      busy = false;
      sendButton.disabled = false;
      scrollDown();
    }
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || busy) return;
    input.value = '';
    ask(question);
  });
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });
  bubble.addEventListener('click', function () { setOpen(panel.hidden); });
  closeButton.addEventListener('click', function () { setOpen(false); });
  clearButton.addEventListener('click', function () { history = []; welcome(); });

  welcome();
  panel.hidden = !(inline || config.open);

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
