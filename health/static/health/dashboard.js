/* Platform health dashboard: polls /dashboard/data every few seconds and redraws in place.
   Plain JavaScript, no libraries, no network beyond this site. Text is set with textContent. */
(function () {
  "use strict";

  var root = document.getElementById("dashboard");
  var dataUrl = root.dataset.dataUrl;
  var latencyUrl = root.dataset.latencyUrl;
  var refreshMs = Math.max(2, Number(root.dataset.refresh) || 10) * 1000;
  var SVG = "http://www.w3.org/2000/svg";
  // A service is "unknown" only until its first threshold is reached: it is being checked.
  var WORDS = { up: "Up", degraded: "Degraded", down: "Down", unknown: "Checking…" };
  var BANNER = {
    healthy: "All systems operational",
    degraded: "Degraded",
    unhealthy: "Major outage"
  };
  var BANNER_ICON = { healthy: "up", degraded: "degraded", unhealthy: "down" };
  var clockSkew = 0; // server time minus browser time, so "x s ago" is right on any clock
  var timer = null;
  var tiles = {};
  var wall = root.dataset.wall === "true";
  var WALL_ALERTS = 6; // the wall shows the most severe few; the rest are counted
  var lostSince = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  // One shape per state: a circle with a tick, a triangle with "!", a square with a cross, a ring.
  function icon(state) {
    var s = svg("svg", { viewBox: "0 0 20 20", "class": "icon icon-" + state, "aria-hidden": "true" });
    if (state === "up") {
      s.appendChild(svg("circle", { cx: 10, cy: 10, r: 9, fill: "currentColor" }));
      s.appendChild(svg("path", { d: "M5.5 10.5l3 3 6-7", fill: "none", stroke: "#0d1520", "stroke-width": 2.2 }));
    } else if (state === "degraded") {
      s.appendChild(svg("path", { d: "M10 1.5L19 18H1z", fill: "currentColor" }));
      s.appendChild(svg("path", { d: "M10 7v5.5M10 14.5v1.5", stroke: "#0d1520", "stroke-width": 2.2 }));
    } else if (state === "down") {
      s.appendChild(svg("rect", { x: 1, y: 1, width: 18, height: 18, rx: 3, fill: "currentColor" }));
      s.appendChild(svg("path", { d: "M6 6l8 8M14 6l-8 8", stroke: "#0d1520", "stroke-width": 2.4 }));
    } else {
      s.appendChild(svg("circle", { cx: 10, cy: 10, r: 8, fill: "none", stroke: "currentColor", "stroke-width": 2.2, "stroke-dasharray": "3 2.5" }));
    }
    return s;
  }

  function ago(iso) {
    if (!iso) return "never";
    var seconds = Math.max(0, Math.round((Date.now() + clockSkew - Date.parse(iso)) / 1000));
    if (seconds < 90) return seconds + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " days ago";
  }

  function duration(iso) {
    var seconds = Math.max(0, Math.round((Date.now() + clockSkew - Date.parse(iso)) / 1000));
    if (seconds < 90) return seconds + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return (seconds / 3600).toFixed(seconds < 36000 ? 1 : 0) + " h";
    return Math.round(seconds / 86400) + " days";
  }

  function clock(iso) {
    return iso ? new Date(iso).toISOString().slice(11, 19) + " UTC" : "";
  }

  function ms(value) {
    if (value === null || value === undefined) return "–";
    return value < 10 ? value.toFixed(1) : String(Math.round(value));
  }

  function plural(count, word) {
    return count + " " + word + (count === 1 ? "" : "s");
  }

  // Before the first round nothing is known: say so, and never count an unknown service as up.
  function bannerState(data) {
    if (data.checking) return { cls: "checking", icon: "unknown", text: "Checking…" };
    return { cls: data.status, icon: BANNER_ICON[data.status] || "unknown",
      text: BANNER[data.status] || data.status };
  }

  function bannerDetail(data) {
    var counts = data.counts, total = data.services.length;
    if (!data.checked_at) {
      return "Waiting for the first health round: " + plural(total, "service") + " not checked yet";
    }
    var down = data.services.filter(function (s) { return s.state === "down"; });
    var parts = [];
    if (down.length) parts.push(down.length + " down: " + down.map(function (s) { return s.name; }).join(", "));
    if (counts.degraded) parts.push(counts.degraded + " degraded");
    if (counts.unknown) parts.push(counts.up + " up", counts.unknown + " still checking");
    if (data.stale) parts.push("no round for " + ago(data.checked_at).replace(" ago", "") + " – results are stale");
    if (!parts.length) parts.push(counts.up === total ? plural(total, "service") + " up" : counts.up + " of " + total + " up");
    return parts.join(" · ");
  }

  function renderBanner(data) {
    var banner = document.getElementById("banner");
    var state = bannerState(data);
    banner.className = "banner state-" + state.cls;
    banner.querySelector(".banner-icon").replaceChildren(icon(state.icon));
    document.getElementById("banner-text").textContent = state.text;
    document.getElementById("banner-detail").textContent = bannerDetail(data);
    var last = document.getElementById("last-round");
    last.textContent = data.checked_at
      ? "Last round " + clock(data.checked_at) + " (" + ago(data.checked_at) + ")"
      : "No round has run yet";
    last.dataset.checkedAt = data.checked_at || "";
  }

  function renderDependencies(deps) {
    var list = document.getElementById("dependencies");
    var items = Object.keys(deps).map(function (name) {
      var dep = deps[name];
      var state = dep.status === "not_configured" ? "unknown" : dep.status;
      var item = el("li", "dep state-" + state);
      item.appendChild(icon(state));
      item.appendChild(el("span", "dep-name", name.charAt(0).toUpperCase() + name.slice(1)));
      var word = dep.status === "not_configured" ? "not configured" : (WORDS[dep.status] || dep.status);
      item.appendChild(el("span", "dep-state", word));
      if (dep.error) item.title = dep.error;
      return item;
    });
    list.replaceChildren.apply(list, items);
  }

  function buildTile(service) {
    var item = el("li", "tile");
    item.dataset.slug = service.slug;
    var body = el("button", "tile-body");
    body.type = "button";
    body.addEventListener("click", function () { openChart(item.dataset.id, item.dataset.name); });
    var head = el("div", "tile-head");
    head.appendChild(el("span", "icon-holder"));
    head.appendChild(el("span", "tile-name"));
    head.appendChild(el("span", "badge critical", "critical"));
    var state = el("div", "tile-state");
    state.appendChild(el("span", "state-word"));
    state.appendChild(el("span", "latency"));
    body.appendChild(head);
    body.appendChild(state);
    body.appendChild(el("p", "since"));
    body.appendChild(el("p", "impact"));
    body.appendChild(el("p", "maintenance"));
    body.appendChild(el("p", "error"));
    body.appendChild(el("div", "heartbeat"));
    var meta = el("div", "beat-meta");
    meta.appendChild(el("span", "", "24 h ago"));
    meta.appendChild(el("span", "uptime"));
    meta.appendChild(el("span", "", "now"));
    body.appendChild(meta);
    body.appendChild(el("p", "deps-line"));
    item.appendChild(body);
    return item;
  }

  function fillTile(item, s) {
    var word = WORDS[s.state] || s.state;
    item.className = "tile state-" + s.state;
    item.dataset.id = s.id;
    item.dataset.name = s.name;
    item.dataset.state = s.state;
    item.querySelector(".icon-holder").replaceChildren(icon(s.state));
    item.querySelector(".tile-name").textContent = s.name;
    item.querySelector(".badge").hidden = !s.critical;
    item.querySelector(".state-word").textContent = word;
    var latency = item.querySelector(".latency");
    latency.replaceChildren(document.createTextNode(ms(s.latency_ms) + " "), el("small", "", "ms"));
    var since = item.querySelector(".since");
    since.textContent = s.since ? word + " for " + duration(s.since)
      : (s.last_checked ? "Waiting for enough checks in a row" : "Not checked yet");
    since.title = s.since ? "since " + s.since.replace("T", " ").slice(0, 19) + " UTC" : "";
    var impact = item.querySelector(".impact");
    impact.textContent = s.impacted_by.length ? "Impacted by " + s.impacted_by.join(", ") : "";
    impact.hidden = !s.impacted_by.length;
    var maintenance = item.querySelector(".maintenance");
    maintenance.textContent = s.maintenance ? "In maintenance (" + s.maintenance.window
      + ") until " + s.maintenance.until.replace("T", " ").slice(0, 16) + " UTC" : "";
    maintenance.hidden = !s.maintenance;
    item.classList.toggle("in-maintenance", Boolean(s.maintenance));
    var error = item.querySelector(".error");
    error.textContent = s.state !== "up" && s.error ? s.error : "";
    error.hidden = !error.textContent;
    var deps = item.querySelector(".deps-line");
    deps.textContent = s.depends_on.length ? "Depends on " + s.depends_on.join(", ") : "";
    deps.hidden = !s.depends_on.length;
    item.querySelector(".uptime").textContent =
      s.uptime_24h === null ? "no data" : (s.uptime_24h * 100).toFixed(2) + "% up";
    var bar = item.querySelector(".heartbeat");
    bar.setAttribute("role", "img");
    var downHours = s.heartbeat.filter(function (b) { return b.state === "down"; }).length;
    bar.setAttribute("aria-label", "Last 24 hours: " + downHours + " hours with failed checks");
    bar.replaceChildren.apply(bar, s.heartbeat.map(function (beat) {
      var seg = el("i", "beat beat-" + beat.state);
      seg.title = clock(beat.hour).slice(0, 5) + " UTC: " + (beat.uptime === null
        ? "no data" : (beat.uptime * 100).toFixed(1) + "% of " + beat.checks + " checks");
      return seg;
    }));
    item.querySelector(".tile-body").setAttribute("aria-label", s.name + ": " + word +
      (s.critical ? ", critical" : "") + ". Show latency chart.");
  }

  function renderTiles(services) {
    var list = document.getElementById("tiles");
    var seen = {};
    services.forEach(function (service, index) {
      var item = tiles[service.slug] || (tiles[service.slug] = buildTile(service));
      fillTile(item, service);
      seen[service.slug] = true;
      if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
    });
    Object.keys(tiles).forEach(function (slug) {
      if (!seen[slug]) { tiles[slug].remove(); delete tiles[slug]; }
    });
  }

  function renderCount(counts, total) {
    var parts = [String(total)];
    if (counts.down) parts.push(counts.down + " down");
    if (counts.degraded) parts.push(counts.degraded + " degraded");
    if (counts.unknown) parts.push(counts.unknown === total ? "all checking" : counts.unknown + " checking");
    document.getElementById("service-count").textContent = "(" + parts.join(" · ") + ")";
  }

  // Facts other parts of the monitor want on the wall: e.g. alerts that reach nobody.
  function renderNotices(notices) {
    var box = document.getElementById("notices");
    box.replaceChildren.apply(box, (notices || []).map(function (notice) {
      var item = el("div", "notice notice-" + (notice.level || "warning"));
      item.dataset.code = notice.code;
      item.setAttribute("role", "alert");
      item.appendChild(el("strong", "notice-title", notice.title));
      item.appendChild(el("p", "notice-message", notice.message));
      if (notice.fix) item.appendChild(el("p", "notice-fix", notice.fix));
      return item;
    }));
    box.hidden = !box.children.length;
  }

  // Anomaly detectors (issue #16): each with its status; an open anomaly is marked and says
  // expected vs observed.
  var ANOMALY_WORDS = { anomalous: "Anomaly", ready: "Normal", learning: "Learning", "new": "Not fitted yet", error: "Error" };
  function renderAnomalies(detectors) {
    var section = document.getElementById("anomalies-section");
    var list = document.getElementById("anomalies");
    detectors = detectors || [];
    list.replaceChildren.apply(list, detectors.map(function (d) {
      var item = el("li", "anomaly anomaly-" + d.status);
      item.dataset.status = d.status;
      item.dataset.id = d.id;
      if (d.status === "anomalous") item.setAttribute("role", "alert");
      item.appendChild(el("span", "anomaly-status", ANOMALY_WORDS[d.status] || d.status));
      item.appendChild(el("strong", "anomaly-name", d.name));
      var detail = d.message || "";
      if (d.status === "anomalous" && d.since) detail += " · since " + ago(d.since);
      if (detail) item.appendChild(el("span", "anomaly-message", detail));
      return item;
    }));
    var flagged = detectors.filter(function (d) { return d.status === "anomalous"; }).length;
    document.getElementById("anomaly-count").textContent = detectors.length
      ? "(" + (flagged ? flagged + " anomalous · " : "") + detectors.length + ")" : "";
    section.hidden = !detectors.length;
  }

  // Firing and acknowledged alerts, the most severe first (facts the alerts app hands over).
  function renderAlerts(alerts) {
    alerts = alerts || [];
    var list = document.getElementById("alert-list");
    var shown = wall ? alerts.slice(0, WALL_ALERTS) : alerts;
    var items = shown.map(function (alert) {
      var item = el("li", "alert-item severity-" + alert.severity + " alert-" + alert.state);
      item.dataset.alert = alert.id;
      item.dataset.state = alert.state;
      var link = el("a", "alert-link");
      link.href = alert.url;
      link.appendChild(el("span", "alert-severity", alert.severity));
      link.appendChild(el("span", "alert-state", alert.state === "acknowledged" ? "Acknowledged" : "Firing"));
      link.appendChild(el("span", "alert-rule", alert.rule));
      if (alert.service) link.appendChild(el("span", "alert-service", alert.service));
      link.appendChild(el("span", "alert-since", "for " + duration(alert.since) +
        (alert.acknowledged_by ? " · " + alert.acknowledged_by : "")));
      if (alert.summary && !wall) link.appendChild(el("span", "alert-summary", alert.summary));
      item.appendChild(link);
      return item;
    });
    if (alerts.length > shown.length) {
      items.push(el("li", "alert-more", "and " + (alerts.length - shown.length) + " more"));
    }
    list.replaceChildren.apply(list, items);
    var firing = alerts.filter(function (a) { return a.state === "firing"; }).length;
    var acked = alerts.length - firing;
    document.getElementById("alert-count").textContent = alerts.length
      ? "(" + [firing ? firing + " firing" : "", acked ? acked + " acknowledged" : ""].filter(Boolean).join(" · ") + ")"
      : "";
    document.getElementById("alert-none").hidden = alerts.length > 0;
    var panel = document.getElementById("alert-panel");
    panel.className = "alert-panel " + (firing ? "has-firing" : (alerts.length ? "has-acknowledged" : "calm"));
  }

  // Wall screen: every tile on one screen. Pick the column count that gives the largest tiles
  // for the space left under the banner and alerts, then shrink the type until nothing overflows.
  function fitWall() {
    if (!wall) return;
    var list = document.getElementById("tiles");
    var count = list.children.length;
    if (!count) return;
    var gap = 8, width = list.clientWidth, height = list.clientHeight, best = null;
    for (var cols = 1; cols <= count; cols++) {
      var rows = Math.ceil(count / cols);
      var w = (width - gap * (cols - 1)) / cols, h = (height - gap * (rows - 1)) / rows;
      var size = Math.min(w / 1.6, h);
      if (!best || size > best.size) best = { cols: cols, rows: rows, size: size, h: h };
    }
    list.style.setProperty("--cols", best.cols);
    list.style.setProperty("--rows", best.rows);
    var font = Math.max(9, Math.min(30, best.h / 6.5));
    list.style.setProperty("--tile-font", font + "px");
    for (var i = 0; i < 30 && font > 9 && overflowing(list); i++) {
      font -= 1;
      list.style.setProperty("--tile-font", font + "px");
    }
    root.dataset.fitted = String(best.cols) + "x" + String(best.rows);
  }

  function overflowing(list) {
    return Array.prototype.some.call(list.children, function (tile) {
      var body = tile.firstElementChild;
      return tile.scrollHeight > tile.clientHeight + 1 || body.scrollHeight > body.clientHeight + 1;
    });
  }

  function render(data) {
    clockSkew = Date.parse(data.now) - Date.now();
    renderAlerts(data.alerts);
    renderBanner(data);
    renderNotices(data.notices);
    renderAnomalies(data.anomalies);
    renderDependencies(data.dependencies);
    renderTiles(data.services);
    renderCount(data.counts, data.services.length);
    fitWall();
    root.dataset.loaded = "true";
  }

  // A lost network or a restarting server: say so, keep the last picture, and try again every
  // interval until the server answers (a request that hangs is cut at the interval).
  function connectionLost() {
    lostSince = lostSince || new Date();
    var box = document.getElementById("connection");
    box.textContent = "Connection lost at " + lostSince.toISOString().slice(11, 19) + " UTC, retrying…";
    box.hidden = false;
    root.dataset.connection = "lost";
  }

  function connectionBack() {
    lostSince = null;
    document.getElementById("connection").hidden = true;
    root.dataset.connection = "ok";
  }

  function refresh() {
    window.clearTimeout(timer);
    var abort = new AbortController();
    var deadline = window.setTimeout(function () { abort.abort(); }, Math.max(5000, refreshMs));
    fetch(dataUrl, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store",
                     signal: abort.signal })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          window.location.reload(); // the session ended: the page itself sends to the login
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        connectionBack();
        render(data);
      })
      .catch(connectionLost)
      .finally(function () {
        window.clearTimeout(deadline);
        timer = window.setTimeout(refresh, refreshMs);
      });
  }

  // Latency chart: inline SVG, failed checks marked on the time axis.
  function openChart(id, name) {
    var dialog = document.getElementById("chart-dialog");
    document.getElementById("chart-title").textContent = name + ": latency, last 24 hours";
    document.getElementById("chart-summary").textContent = "Loading…";
    document.getElementById("chart").replaceChildren();
    if (!dialog.open) dialog.showModal();
    fetch(latencyUrl.replace("/0/", "/" + encodeURIComponent(id) + "/"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { drawChart(data.points); })
      .catch(function () {
        document.getElementById("chart-summary").textContent = "Could not load the latency history.";
      });
  }

  function drawChart(points) {
    var summary = document.getElementById("chart-summary");
    var box = document.getElementById("chart");
    if (!points.length) { summary.textContent = "No checks recorded yet."; return; }
    var W = 860, H = 300, L = 48, R = 12, T = 12, B = 28;
    var times = points.map(function (p) { return Date.parse(p.at); });
    var ok = points.filter(function (p) { return p.outcome !== "down" && p.latency_ms !== null; });
    var values = ok.map(function (p) { return p.latency_ms; });
    var max = Math.max.apply(null, values.concat([1])) * 1.1;
    var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
    if (t1 === t0) { t0 -= 60000; t1 += 60000; }
    function x(t) { return L + (t - t0) / (t1 - t0) * (W - L - R); }
    function y(v) { return T + (1 - v / max) * (H - T - B); }
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": "Latency over time; failed checks marked in red below the axis" });
    for (var i = 0; i <= 4; i++) {
      var v = max * i / 4;
      chart.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), "class": i ? "grid" : "axis" }));
      var label = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" });
      label.textContent = Math.round(v) + " ms";
      chart.appendChild(label);
    }
    [t0, (t0 + t1) / 2, t1].forEach(function (t, index) {
      var label = svg("text", { x: x(t), y: H - 8, "text-anchor": ["start", "middle", "end"][index] });
      label.textContent = new Date(t).toISOString().slice(11, 16) + " UTC";
      chart.appendChild(label);
    });
    var path = ok.map(function (p, index) {
      return (index ? "L" : "M") + x(Date.parse(p.at)).toFixed(1) + " " + y(p.latency_ms).toFixed(1);
    }).join(" ");
    if (path) chart.appendChild(svg("path", { d: path, "class": "line" }));
    points.forEach(function (p) {
      if (p.outcome === "down") {
        chart.appendChild(svg("rect", { x: x(Date.parse(p.at)) - 2, y: H - B - 6, width: 4, height: 6, "class": "fail" }));
      }
    });
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    var p50 = sorted.length ? sorted[Math.ceil(sorted.length * 0.5) - 1] : null;
    var p95 = sorted.length ? sorted[Math.ceil(sorted.length * 0.95) - 1] : null;
    var failed = points.length - ok.length;
    summary.textContent = points.length + " checks · p50 " + ms(p50) + " ms · p95 " + ms(p95) +
      " ms · " + failed + " failed";
    box.replaceChildren(chart);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
  window.addEventListener("online", refresh); // the network is back: do not wait for the timer
  window.addEventListener("resize", fitWall);
  refresh();
})();
