/* The seed fund's overview charts (templates/funds/overview.html).

   No inline script (the Content-Security-Policy forbids it): each canvas carries its data and
   this file draws it.

   data-seed-chart="line|bar"   the kind of chart;
   data-chart='{"labels": [...], "unit": "万元", "series": [{"label": ..., "values": ["1234.50", ...]}]}'
                                rendered by funds/views.py; amounts are strings in yuan, plotted in
                                万元 (display only: the table under the charts has the exact figures).

   The application form (templates/funds/application_form.html) also uses this file when present:
   data-applicant="enterprise|team" blocks are dimmed when the other kind of applicant is chosen. */
(function () {
  "use strict";

  var PALETTE = ["#0b4a7f", "#c8a24a", "#2e8b57", "#b4532a", "#6a5acd", "#1f9bb4"];
  var WAN = 10000;

  function toWan(text) {
    return Number(text) / WAN;
  }

  // "1234567.80" -> "¥1,234,567.80" from the string itself: the tooltip shows the exact amount.
  function cny(text) {
    var negative = text.charAt(0) === "-";
    var parts = (negative ? text.slice(1) : text).split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (negative ? "-¥" : "¥") + parts.join(".");
  }

  function datasets(data, kind) {
    return data.series.map(function (series, index) {
      var colour = PALETTE[index % PALETTE.length];
      var dataset = {
        label: series.label,
        data: series.values.map(toWan),
        exact: series.values,
        borderColor: colour,
        backgroundColor: colour
      };
      if (kind === "line") {
        dataset.fill = false;
        dataset.tension = 0.15;
        dataset.pointRadius = data.labels.length > 24 ? 0 : 2;
      }
      return dataset;
    });
  }

  function config(data, kind) {
    return {
      type: kind,
      data: { labels: data.labels, datasets: datasets(data, kind) },
      options: {
        aspectRatio: kind === "line" ? 2 : 1.5,
        interaction: { mode: "index", intersect: false },
        scales: {
          y: {
            beginAtZero: true,
            title: { display: true, text: data.unit || "万元" },
            ticks: {
              callback: function (value) {
                return Number(value).toLocaleString("zh-CN", { maximumFractionDigits: 2 });
              }
            }
          }
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (context) {
                return context.dataset.label + "：" + cny(context.dataset.exact[context.dataIndex]);
              }
            }
          }
        }
      }
    };
  }

  function drawCharts() {
    if (typeof window.Chart === "undefined") {
      return; // the table under the charts still carries every figure
    }
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.animation = false;
    var canvases = document.querySelectorAll("canvas[data-seed-chart]");
    for (var i = 0; i < canvases.length; i++) {
      var canvas = canvases[i];
      var kind = canvas.getAttribute("data-seed-chart");
      var data;
      try {
        data = JSON.parse(canvas.getAttribute("data-chart"));
      } catch (error) {
        continue;
      }
      if ((kind !== "line" && kind !== "bar") || !data.labels || data.labels.length === 0) {
        canvas.setAttribute("hidden", "");
        continue;
      }
      canvas.chart = new window.Chart(canvas, config(data, kind));
      canvas.setAttribute("data-drawn", "1");
    }
    document.body.setAttribute("data-charts-ready", "1");
  }

  // The application form: show which block belongs to the applicant kind chosen.
  function followApplicant() {
    var radios = document.querySelectorAll("input[name='applicant']");
    if (!radios.length) {
      return;
    }
    function update() {
      var chosen = document.querySelector("input[name='applicant']:checked");
      var kind = chosen ? chosen.value : "";
      var blocks = document.querySelectorAll("[data-applicant]");
      for (var i = 0; i < blocks.length; i++) {
        blocks[i].classList.toggle("opacity-50", kind !== "" && blocks[i].getAttribute("data-applicant") !== kind
          && blocks[i].getAttribute("data-applicant") !== "team");
      }
    }
    for (var i = 0; i < radios.length; i++) {
      radios[i].addEventListener("change", update);
    }
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    followApplicant();
  });
})();
