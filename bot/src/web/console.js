// opsbot web console: live updates of an incident page (bot/src/web/assets.rs serves
// this file). An element with data-live="URL" and data-events="URL" is refreshed from
// URL whenever the server-sent event stream at data-events says it changed.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-live][data-events]").forEach(function (live) {
    var source = new EventSource(live.dataset.events);
    source.addEventListener("changed", function () {
      fetch(live.dataset.live, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { live.innerHTML = html; } });
    });
    source.addEventListener("closed", function () { source.close(); });
  });
});
