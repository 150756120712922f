// Live updates: the server says "update" over SSE when what this page shows changed; the
// page's live parts (hx-trigger="leadbot-update from:body") then reload themselves.
document.addEventListener("DOMContentLoaded", function () {
  var live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) return;
  var es = new EventSource(live.getAttribute("data-live"));
  es.addEventListener("update", function () {
    if (window.htmx) window.htmx.trigger(document.body, "leadbot-update");
  });
});
