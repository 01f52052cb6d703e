// Hailong's dashboard: live figures without a reload, and the office's hourly chart.
// No inline script anywhere (the pages' content security policy forbids it).
(function () {
  "use strict";

  function show(value, digits) {
    if (value === null || value === undefined) { return "—"; }
    if (typeof value === "number" && !Number.isInteger(value)) { return value.toFixed(digits); }
    return String(value);
  }

  var DIGITS = { osi: 1, s_kiosk: 1, s_qr: 1, s_camera: 1, queue_length_avg: 1, wait_seconds_avg: 0 };

  function poll(section) {
    var url = section.getAttribute("data-live-url");
    var every = parseFloat(section.getAttribute("data-poll-s") || "5") * 1000;
    var readAt = Date.now();
    var age = section.querySelector("[data-read-age]");
    setInterval(function () {
      if (age) { age.textContent = String(Math.round((Date.now() - readAt) / 1000)); }
    }, 1000);
    function tick() {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (!body) { return; }
          readAt = Date.now();
          Object.keys(body.windows).forEach(function (w) {
            var row = section.querySelector('tr[data-window="' + w + '"]');
            if (!row) { return; }
            var values = body.windows[w];
            row.querySelectorAll("[data-field]").forEach(function (cell) {
              var field = cell.getAttribute("data-field");
              cell.textContent = show(values[field], DIGITS[field] === undefined ? 0 : DIGITS[field]);
            });
          });
          var landed = section.querySelector("[data-landed]");
          if (landed && body.landed_at) {
            landed.setAttribute("datetime", body.landed_at);
            landed.textContent = body.landed_at.replace("T", " ").slice(0, 16) + " UTC";
          }
        })
        .catch(function () { /* the next tick tries again */ });
    }
    setInterval(tick, every);
  }

  function chart() {
    var holder = document.getElementById("chart-hourly");
    var source = document.getElementById("hourly-data");
    if (!holder || !source || !window.Plotly) { return; }
    var d = JSON.parse(source.textContent);
    var x = d.hours.map(function (h) { return new Date(h.hour * 1000); });
    var n = d.hours.map(function (h) { return h.k_n + h.q_n; });
    var share = d.hours.map(function (h) { return h.k_n ? 100 * h.k_sat / h.k_n : null; });
    window.Plotly.newPlot(holder, [
      { x: x, y: n, type: "bar", name: d.ratings, marker: { color: "#7aa6c2" } },
      { x: x, y: share, type: "scatter", mode: "lines+markers", name: d.share, yaxis: "y2",
        line: { color: "#00507a" } }
    ], {
      margin: { l: 40, r: 40, t: 10, b: 40 }, legend: { orientation: "h" },
      xaxis: { type: "date", range: [new Date(d.from * 1000), new Date(d.to * 1000)] },
      yaxis: { title: { text: d.ratings }, rangemode: "tozero" },
      yaxis2: { title: { text: d.share }, overlaying: "y", side: "right", range: [0, 100] }
    }, { responsive: true, displaylogo: false });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url]").forEach(poll);
    chart();
  });
}());
