// leadbot's chat widget: <script src="https://leadbot.example.ru/widget.js" async></script>
// adds a launcher bubble that opens the chat in the page. Everything lives in a shadow root,
// so the site's styles and the widget's do not touch. Live replies come over server-sent
// events; nothing polls.
(function () {
  "use strict";
  if (window.__leadbotWidget) return;
  window.__leadbotWidget = true;
  var CFG = __LEADBOT_WIDGET_CONFIG__;
  var me = document.currentScript;
  var BASE = me && me.src ? new URL(me.src).origin : location.origin;
  var KEY = "leadbot.widget." + BASE;
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY) || "{}"); } catch (e) { saved = {}; }
  function save() { try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) {} }
  function rid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    return String(Date.now()) + String(Math.random()).slice(2) + "0000000000000000";
  }

  var host = document.createElement("div");
  host.setAttribute("data-leadbot-widget", "");
  var root = host.attachShadow({ mode: "open" });
  var color = /^#[0-9a-fA-F]{6}$/.test(CFG.color || "") ? CFG.color : "#2563eb";
  root.innerHTML =
    "<style>" +
    ":host{all:initial}" +
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".launcher{position:fixed;right:20px;bottom:20px;width:60px;height:60px;border-radius:50%;border:0;background:" + color + ";color:#fff;box-shadow:0 4px 16px rgba(0,0,0,.25);cursor:pointer;z-index:2147483646;display:flex;align-items:center;justify-content:center}" +
    ".launcher svg{width:28px;height:28px;fill:#fff}" +
    ".panel{position:fixed;right:20px;bottom:92px;width:370px;height:min(560px,calc(100% - 112px));background:#fff;border-radius:14px;box-shadow:0 8px 32px rgba(0,0,0,.25);display:none;flex-direction:column;overflow:hidden;z-index:2147483647;color:#1d2330}" +
    ".panel.open{display:flex}" +
    "header{background:" + color + ";color:#fff;padding:12px 14px;display:flex;align-items:center;gap:10px}" +
    "header img{width:36px;height:36px;border-radius:50%;object-fit:cover;background:#fff}" +
    "header .t{flex:1;font-weight:600;font-size:16px}" +
    "header button{background:none;border:0;color:#fff;font-size:26px;line-height:1;cursor:pointer;padding:0 4px}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9;overscroll-behavior:contain}" +
    ".m{max-width:82%;padding:8px 11px;border-radius:12px;font-size:15px;line-height:1.4;white-space:pre-wrap;word-wrap:break-word}" +
    ".m.out{align-self:flex-start;background:#fff;border:1px solid #e4e7ec}" +
    ".m.in{align-self:flex-end;background:" + color + ";color:#fff}" +
    ".m .a{display:block;font-size:12px;opacity:.7;margin-bottom:2px}" +
    ".typing{align-self:flex-start;color:#667085;font-size:13px;padding:2px 4px;display:none}" +
    ".typing.on{display:block}" +
    ".consent{font-size:12px;color:#667085;padding:6px 12px 0;background:#fff}" +
    ".consent a{color:" + color + "}" +
    "form{display:flex;gap:8px;padding:10px 12px calc(10px + env(safe-area-inset-bottom));background:#fff;border-top:1px solid #e4e7ec}" +
    "textarea{flex:1;resize:none;border:1px solid #d0d5dd;border-radius:10px;padding:9px 10px;font-size:16px;max-height:120px;min-height:42px}" +
    "form button{background:" + color + ";color:#fff;border:0;border-radius:10px;padding:0 14px;font-size:16px;cursor:pointer}" +
    ".err{color:#b42318;font-size:12px;padding:0 12px 6px;background:#fff}" +
    "@media (max-width:480px){.panel{right:0;bottom:0;left:0;top:0;width:auto;height:auto;border-radius:0}.panel.open~.launcher{display:none}}" +
    "</style>" +
    "<div class='panel' role='dialog' aria-label='Чат'>" +
    "<header>" + (CFG.avatar ? "<img alt='' src=''>" : "") + "<span class='t'></span><button type='button' class='close' aria-label='Закрыть'>×</button></header>" +
    "<div class='log' aria-live='polite'></div>" +
    "<div class='consent'></div>" +
    "<div class='err' role='alert'></div>" +
    "<form><textarea rows='1' placeholder='Сообщение…' aria-label='Сообщение' enterkeyhint='send'></textarea><button type='submit'>➤</button></form>" +
    "</div>" +
    "<button type='button' class='launcher' aria-label='Открыть чат'><svg viewBox='0 0 24 24'><path d='M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z'/></svg></button>";

  var panel = root.querySelector(".panel");
  var log = root.querySelector(".log");
  var consent = root.querySelector(".consent");
  var err = root.querySelector(".err");
  var input = root.querySelector("textarea");
  var form = root.querySelector("form");
  var typing = document.createElement("div");
  typing.className = "typing";
  typing.textContent = "печатает…";
  log.appendChild(typing);
  root.querySelector(".t").textContent = CFG.name || "Чат";
  if (CFG.avatar) root.querySelector("header img").src = CFG.avatar;
  consent.textContent = (CFG.consent || "") + (CFG.privacy_url ? " " : "");
  if (CFG.privacy_url) {
    var a = document.createElement("a");
    a.href = CFG.privacy_url; a.target = "_blank"; a.rel = "noopener";
    a.textContent = "Политика конфиденциальности";
    consent.appendChild(a);
  }
  var seen = {};
  var last = 0;
  var source = null;

  function bubble(dir, text, author) {
    var m = document.createElement("div");
    m.className = "m " + dir;
    if (author) { var s = document.createElement("span"); s.className = "a"; s.textContent = author; m.appendChild(s); }
    m.appendChild(document.createTextNode(text));
    log.insertBefore(m, typing);
    log.scrollTop = log.scrollHeight;
  }
  function show(line) {
    if (seen[line.id]) return;
    seen[line.id] = true;
    if (line.id > last) last = line.id;
    bubble(line.direction === "in" ? "in" : "out", line.text, line.author);
    if (line.direction !== "in") typing.classList.remove("on");
  }
  function listen() {
    if (!saved.lead || !window.EventSource || source) return;
    source = new EventSource(BASE + "/api/v1/leads/" + saved.lead + "/events?after=" + last + "&token=" + encodeURIComponent(saved.token));
    source.addEventListener("message", function (ev) { try { show(JSON.parse(ev.data)); } catch (e) {} });
    source.onerror = function () {
      // The browser reconnects by itself; a lead that is gone starts afresh.
      if (source.readyState === 2) { source = null; }
    };
  }
  function api(method, path, body, extra) {
    var headers = { "content-type": "application/json" };
    if (saved.token) headers["x-chat-token"] = saved.token;
    for (var k in extra || {}) headers[k] = extra[k];
    return fetch(BASE + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (d) {
          if (!r.ok) throw new Error(d.error || r.statusText);
          return d;
        });
      });
  }
  function history() {
    if (!saved.lead) return Promise.resolve();
    return api("GET", "/api/v1/leads/" + saved.lead + "/transcript").then(function (d) {
      (d.transcript || []).forEach(show);
    }).catch(function () { saved = {}; save(); });
  }
  var opened = false;
  function open() {
    panel.classList.add("open");
    if (!opened) {
      opened = true;
      if (CFG.greeting) bubble("out", CFG.greeting);
      consent.style.display = saved.lead ? "none" : "";
      history().then(listen);
    }
    setTimeout(function () { input.focus(); }, 0);
  }
  root.querySelector(".launcher").addEventListener("click", function () {
    if (panel.classList.contains("open")) panel.classList.remove("open"); else open();
  });
  root.querySelector(".close").addEventListener("click", function () { panel.classList.remove("open"); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    err.textContent = "";
    typing.classList.add("on");
    log.scrollTop = log.scrollHeight;
    var sent;
    if (!saved.lead) {
      if (!saved.visitor) { saved.visitor = rid(); saved.creator = rid() + "c0000000000000000"; save(); }
      sent = api("POST", "/api/v1/leads", { source: "widget", external_id: saved.visitor, channel: "webchat", text: text, name: null },
        { "Idempotency-Key": saved.creator }).then(function (d) {
        saved.lead = d.id; saved.token = d.chat_token || ""; save();
        consent.style.display = "none";
        return history().then(listen);
      });
    } else {
      sent = api("POST", "/api/v1/leads/" + saved.lead + "/messages", { text: text, message_id: rid() }).then(function (d) {
        (d.transcript || []).forEach(show);
      });
    }
    sent.catch(function (x) {
      typing.classList.remove("on");
      err.textContent = "Не удалось отправить: " + x.message;
      input.value = text;
    }).then(function () {
      // Nothing more is coming unless a person writes: the indicator goes after a while.
      setTimeout(function () { typing.classList.remove("on"); }, 1500);
    });
  });
  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
