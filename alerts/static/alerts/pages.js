/* The alert pages update themselves: every few seconds the page is fetched again and each region
   marked data-live is replaced by its fresh copy (server-rendered: the same role-aware buttons
   and CSRF tokens). A lost connection is said and retried until the server answers again.
   No library, no inline script (the CSP forbids it). */
(function () {
  "use strict";

  var root = document.querySelector("[data-live-page]");
  if (!root || !document.querySelector("[data-live]")) return;
  var refreshMs = Math.max(2, Number(root.dataset.refresh) || 10) * 1000;
  var status = document.getElementById("live-status");
  var timer = null;

  function say(text, lost) {
    status.textContent = text;
    status.classList.toggle("lost", !!lost);
    root.dataset.connection = lost ? "lost" : "ok";
  }

  function swap(fresh) {
    var focused = document.activeElement && document.activeElement.id;
    document.querySelectorAll("[data-live]").forEach(function (region) {
      var replacement = fresh.getElementById(region.id);
      if (replacement) region.replaceWith(document.importNode(replacement, true));
    });
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
    root.dataset.updated = String(Date.now());
  }

  function refresh() {
    window.clearTimeout(timer);
    var abort = new AbortController();
    var deadline = window.setTimeout(function () { abort.abort(); }, Math.max(5000, refreshMs));
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store", signal: abort.signal,
                                 headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload(); // signed out: the page itself sends to the login
          return null;
        }
        if (!response.ok && response.status !== 400) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        swap(new DOMParser().parseFromString(html, "text/html"));
        say("Updated " + new Date().toLocaleTimeString() + "; updates every " + refreshMs / 1000 + " s.");
      })
      .catch(function () { say("Connection lost, retrying…", true); })
      .finally(function () {
        window.clearTimeout(deadline);
        timer = window.setTimeout(refresh, refreshMs);
      });
  }

  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  timer = window.setTimeout(refresh, refreshMs);
  say("Updates every " + refreshMs / 1000 + " s.");
})();
