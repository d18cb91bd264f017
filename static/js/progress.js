/* The programme progress dashboard (templates/loans/progress.html).

   No inline script (the Content-Security-Policy forbids it): the page carries its data in
   attributes and this file draws it.

   data-progress="45.12"            on a .progress element: the bar's width in percent.
   data-chart='{...}'               on a canvas, JSON rendered by loans/progress_views.py; amounts are
   data-chart-kind="cumulative|bar|hbar|doughnut"   strings in yuan, plotted in 万元 (display only:
                                    the exact figures are in the table under each chart). */
(function () {
  "use strict";

  var PALETTE = ["#0b4a7f", "#c8a24a", "#2e8b57", "#b4532a", "#6a5acd", "#1f9bb4", "#8c6d1f",
                 "#b42318", "#5f6b7a", "#3b7dd8", "#9a4c95", "#4d7c0f"];
  var WAN = 10000;

  function toWan(text) {
    return Number(text) / WAN;
  }

  // "1234567.80" -> "¥1,234,567.80" from the string itself, so the tooltip shows the exact amount.
  function cny(text) {
    var negative = text.charAt(0) === "-";
    var parts = (negative ? text.slice(1) : text).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-¥" : "¥") + parts.join(".");
  }

  function colours(count) {
    var list = [];
    for (var i = 0; i < count; i++) {
      list.push(PALETTE[i % PALETTE.length]);
    }
    return list;
  }

  function moneyTooltip() {
    return {
      callbacks: {
        label: function (context) {
          var name = context.dataset.label ? context.dataset.label + "：" : "";
          return name + cny(context.dataset.exact[context.dataIndex]);
        }
      }
    };
  }

  function wanAxis(unit) {
    return {
      beginAtZero: true,
      title: { display: true, text: unit || "万元" },
      ticks: {
        callback: function (value) {
          return Number(value).toLocaleString("zh-CN", { maximumFractionDigits: 2 });
        }
      }
    };
  }

  function plotted(values) {
    return values.map(function (value) { return value === null ? null : toWan(value); });
  }

  function cumulativeConfig(data) {
    var target = toWan(data.target);
    var datasets = [
      {
        label: data.series_label,
        data: plotted(data.values),
        exact: data.values,
        borderColor: PALETTE[0],
        backgroundColor: "rgba(11, 74, 127, 0.12)",
        fill: true,
        tension: 0.15,
        pointRadius: data.labels.length > 36 ? 0 : 2
      }
    ];
    if (data.projection && data.projection.length) {
      datasets.push({
        label: data.projection_label,
        data: plotted(data.projection),
        exact: data.projection,
        borderColor: PALETTE[1],
        borderDash: [3, 3],
        borderWidth: 2,
        pointRadius: 0,
        fill: false
      });
    }
    datasets.push({
      label: data.target_label,
      data: data.labels.map(function () { return target; }),
      exact: data.labels.map(function () { return data.target; }),
      borderColor: "#b42318",
      borderDash: [6, 4],
      borderWidth: 2,
      pointRadius: 0,
      fill: false
    });
    return {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        aspectRatio: 2.6,
        spanGaps: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: wanAxis(data.unit) },
        plugins: {
          tooltip: {
            filter: function (item) { return item.dataset.exact[item.dataIndex] !== null; },
            callbacks: moneyTooltip().callbacks
          }
        }
      }
    };
  }

  function barConfig(data, horizontal) {
    var valueAxis = wanAxis(data.unit);
    var scales = horizontal ? { x: valueAxis } : { y: valueAxis };
    return {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: data.series_label,
          data: data.values.map(toWan),
          exact: data.values,
          backgroundColor: horizontal ? colours(data.labels.length) : PALETTE[0]
        }]
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        aspectRatio: horizontal ? 1.6 : 1.8,
        scales: scales,
        plugins: {
          legend: { display: false },
          tooltip: moneyTooltip()
        }
      }
    };
  }

  function doughnutConfig(data) {
    return {
      type: "doughnut",
      data: {
        labels: data.labels,
        datasets: [{
          data: data.values.map(toWan),
          exact: data.values,
          backgroundColor: colours(data.labels.length)
        }]
      },
      options: {
        aspectRatio: 1.8,
        plugins: {
          legend: { position: "right" },
          tooltip: {
            callbacks: {
              label: function (context) {
                return context.label + "：" + cny(context.dataset.exact[context.dataIndex]);
              }
            }
          }
        }
      }
    };
  }

  var BUILDERS = {
    cumulative: cumulativeConfig,
    bar: function (data) { return barConfig(data, false); },
    hbar: function (data) { return barConfig(data, true); },
    doughnut: doughnutConfig
  };

  function drawProgressBars() {
    var bars = document.querySelectorAll("[data-progress]");
    for (var i = 0; i < bars.length; i++) {
      var percent = Math.max(0, Math.min(100, Number(bars[i].getAttribute("data-progress")) || 0));
      var inner = bars[i].querySelector(".progress-bar");
      if (inner) {
        inner.style.width = percent + "%";
      }
    }
  }

  function drawCharts() {
    if (typeof window.Chart === "undefined") {
      return; // the tables under each chart still carry every figure
    }
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.animation = false; // a report, not a show: draw at once (and print as drawn)
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) {
      var canvas = canvases[i];
      var build = BUILDERS[canvas.getAttribute("data-chart-kind")];
      var data;
      try {
        data = JSON.parse(canvas.getAttribute("data-chart"));
      } catch (error) {
        continue;
      }
      if (!build || !data.labels || data.labels.length === 0) {
        canvas.setAttribute("hidden", "");
        continue;
      }
      canvas.chart = new window.Chart(canvas, build(data));
      canvas.setAttribute("data-drawn", "1");
    }
    document.body.setAttribute("data-charts-ready", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawProgressBars();
    drawCharts();
  });
})();
