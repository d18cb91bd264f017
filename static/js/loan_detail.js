/* The loan page (templates/loans/detail.html): a small line chart of the DPD history.

   No inline script (the Content-Security-Policy forbids it): the figures are the history table's own,
   read from its rows' attributes, so the chart and the table cannot disagree.

   <canvas data-dpd-chart data-source="#dpd-history"
           data-label-dpd="逾期天数" data-label-outstanding="贷款余额（万元）">
   <tr data-day="2025-06-30" data-dpd="0" data-outstanding="1000000.00">   (newest first) */
(function () {
  "use strict";

  var WAN = 10000;

  function historyOf(tbody) {
    var rows = tbody.querySelectorAll("tr[data-day]");
    var points = [];
    for (var i = rows.length - 1; i >= 0; i--) { // the table is newest first; the chart reads left to right
      points.push({
        day: rows[i].getAttribute("data-day"),
        dpd: Number(rows[i].getAttribute("data-dpd")) || 0,
        outstanding: rows[i].getAttribute("data-outstanding")
      });
    }
    return points;
  }

  function draw(canvas) {
    var tbody = document.querySelector(canvas.getAttribute("data-source"));
    var points = tbody ? historyOf(tbody) : [];
    if (points.length < 2) {
      canvas.setAttribute("hidden", "");
      return;
    }
    canvas.chart = new window.Chart(canvas, {
      type: "line",
      data: {
        labels: points.map(function (p) { return p.day; }),
        datasets: [
          {
            label: canvas.getAttribute("data-label-dpd"),
            data: points.map(function (p) { return p.dpd; }),
            borderColor: "#b42318",
            backgroundColor: "#b42318",
            tension: 0,
            yAxisID: "dpd"
          },
          {
            label: canvas.getAttribute("data-label-outstanding"),
            data: points.map(function (p) { return Number(p.outstanding) / WAN; }),
            borderColor: "#0b4a7f",
            backgroundColor: "#0b4a7f",
            borderDash: [4, 3],
            tension: 0,
            yAxisID: "outstanding"
          }
        ]
      },
      options: {
        aspectRatio: 3.2,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          dpd: {
            position: "left",
            beginAtZero: true,
            ticks: { precision: 0 },
            title: { display: true, text: canvas.getAttribute("data-label-dpd") }
          },
          outstanding: {
            position: "right",
            beginAtZero: true,
            grid: { drawOnChartArea: false },
            title: { display: true, text: canvas.getAttribute("data-label-outstanding") }
          }
        }
      }
    });
    canvas.setAttribute("data-drawn", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof window.Chart === "undefined") {
      return; // the table still carries every figure
    }
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    var canvases = document.querySelectorAll("canvas[data-dpd-chart]");
    for (var i = 0; i < canvases.length; i++) {
      draw(canvases[i]);
    }
  });
})();
