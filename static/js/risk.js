/* The risk-compensation pool's pages (templates/risk/*).

   No inline script or style (the Content-Security-Policy forbids them): each element carries its data
   in attributes and this file draws it. The script holds no interface text; every label comes from
   the page.

   canvas[data-risk-chart] with data-chart='{...}' (JSON rendered by risk/views.py):
     format   "money" (strings in yuan, plotted in 万元; tooltips show the exact amount),
              "percent" or "number" (plotted as they are, tooltips add `suffix`);
     unit     the value axis title;
     labels   the categories (months, banks);
     series   [{label, values: [string|null], type: "bar"|"line", tone: index|"success"|"warning"|"danger",
                tones: [tone per point], dashed, fill, negative (points below zero in red),
                rule (a threshold: drawn as a line across the whole plot at its first value)}].
   [data-progress="45.1"] on a .progress: the inner bar's width in percent.
   [data-marker="41.7"]: a threshold tick placed at that percentage of its container's width. */
(function () {
  "use strict";

  var PALETTE = ["#0b4a7f", "#c8a24a", "#2e8b57", "#b4532a", "#6a5acd", "#1f9bb4"];
  var TONES = {
    success: "#2e8b57",
    warning: "#d39e00",
    danger: "#b42318",
    info: "#1f9bb4",
    secondary: "#5f6b7a",
    dark: "#212529",
    primary: "#0b4a7f"
  };
  var WAN = 10000;

  function colour(tone, index) {
    if (typeof tone === "string" && TONES[tone]) {
      return TONES[tone];
    }
    if (typeof tone === "number") {
      return PALETTE[tone % PALETTE.length];
    }
    return PALETTE[index % PALETTE.length];
  }

  // "1234567.80" -> "¥1,234,567.80" from the string itself, so the tooltip shows the exact amount.
  function cny(text) {
    var negative = text.charAt(0) === "-";
    var parts = (negative ? text.slice(1) : text).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-¥" : "¥") + parts.join(".");
  }

  function plotted(values, money) {
    return values.map(function (value) {
      if (value === null || value === undefined) {
        return null;
      }
      return money ? Number(value) / WAN : Number(value);
    });
  }

  function dataset(series, index, data) {
    var money = data.format === "money";
    var base = colour(series.tone, index);
    var set = {
      type: series.type === "line" ? "line" : "bar",
      label: series.label,
      data: plotted(series.values, money),
      exact: series.values,
      borderColor: base,
      backgroundColor: base
    };
    if (series.tones) {
      set.backgroundColor = series.tones.map(function (tone) { return colour(tone, index); });
      set.borderColor = set.backgroundColor;
    }
    if (set.type === "line") {
      set.fill = Boolean(series.fill);
      set.backgroundColor = series.fill ? "rgba(11, 74, 127, 0.12)" : base;
      set.tension = 0.15;
      set.borderWidth = 2;
      set.pointRadius = series.dashed || data.labels.length > 36 ? 0 : 2;
      set.order = 0; // lines over bars
      if (series.dashed) {
        set.borderDash = [6, 4];
      }
      if (series.negative) {
        var points = series.values.map(function (value) {
          return value !== null && Number(value) < 0 ? TONES.danger : base;
        });
        set.pointBackgroundColor = points;
        set.pointBorderColor = points;
        set.pointRadius = 2;
        set.segment = {
          borderColor: function (context) {
            return context.p1.parsed.y < 0 ? TONES.danger : undefined;
          }
        };
      }
      if (series.rule) {
        set.rule = true;
        set.showLine = false; // the rules plugin draws it across the whole plot
        set.pointRadius = 0;
        set.pointHoverRadius = 0;
      }
    } else {
      set.order = 1;
    }
    return set;
  }

  // Thresholds (a bank's warning and suspension levels) as lines from edge to edge of the plot:
  // a line dataset on a bar chart would stop at the first and last bars' centres.
  var rulesPlugin = {
    id: "riskRules",
    afterDatasetsDraw: function (chart) {
      var area = chart.chartArea;
      var scale = chart.scales.y;
      var context = chart.ctx;
      chart.data.datasets.forEach(function (set, index) {
        if (!set.rule || !chart.isDatasetVisible(index) || set.data[0] === null) {
          return;
        }
        var y = scale.getPixelForValue(set.data[0]);
        context.save();
        context.strokeStyle = set.borderColor;
        context.lineWidth = 2;
        context.setLineDash(set.borderDash || []);
        context.beginPath();
        context.moveTo(area.left, y);
        context.lineTo(area.right, y);
        context.stroke();
        context.restore();
      });
    }
  };

  function tooltipLabel(data) {
    return function (context) {
      var exact = context.dataset.exact[context.dataIndex];
      if (exact === null || exact === undefined) {
        return null;
      }
      var name = context.dataset.label ? context.dataset.label + "：" : "";
      if (data.format === "money") {
        return name + cny(exact);
      }
      return name + exact + (data.suffix || "");
    };
  }

  function config(data) {
    var datasets = data.series.map(function (series, index) { return dataset(series, index, data); });
    var hasBar = datasets.some(function (set) { return set.type === "bar"; });
    return {
      type: hasBar ? "bar" : "line",
      data: { labels: data.labels, datasets: datasets },
      plugins: [rulesPlugin],
      options: {
        aspectRatio: 1.8,
        spanGaps: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: {
            beginAtZero: true,
            title: { display: Boolean(data.unit), text: data.unit || "" },
            ticks: {
              callback: function (value) {
                return Number(value).toLocaleString("zh-CN", { maximumFractionDigits: 2 });
              }
            }
          }
        },
        plugins: {
          tooltip: {
            filter: function (item) {
              var exact = item.dataset.exact[item.dataIndex];
              return exact !== null && exact !== undefined;
            },
            callbacks: { label: tooltipLabel(data) }
          }
        }
      }
    };
  }

  function drawCharts() {
    if (typeof window.Chart === "undefined") {
      return; // the table beside each chart still carries every figure
    }
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.animation = false; // a report: draw at once (and print as drawn)
    var canvases = document.querySelectorAll("canvas[data-risk-chart]");
    for (var i = 0; i < canvases.length; i++) {
      var canvas = canvases[i];
      var data;
      try {
        data = JSON.parse(canvas.getAttribute("data-chart"));
      } catch (error) {
        continue;
      }
      if (!data || !data.labels || data.labels.length === 0 || !data.series) {
        canvas.setAttribute("hidden", "");
        continue;
      }
      canvas.chart = new window.Chart(canvas, config(data));
      canvas.setAttribute("data-drawn", "1");
    }
    document.body.setAttribute("data-charts-ready", "1");
  }

  function clampPercent(text) {
    return Math.max(0, Math.min(100, Number(text) || 0));
  }

  function drawBars() {
    var bars = document.querySelectorAll("[data-progress]");
    for (var i = 0; i < bars.length; i++) {
      var inner = bars[i].querySelector(".progress-bar");
      if (inner) {
        inner.style.width = clampPercent(bars[i].getAttribute("data-progress")) + "%";
      }
    }
    var markers = document.querySelectorAll("[data-marker]");
    for (var j = 0; j < markers.length; j++) {
      markers[j].style.left = clampPercent(markers[j].getAttribute("data-marker")) + "%";
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawBars();
    drawCharts();
  });
})();
