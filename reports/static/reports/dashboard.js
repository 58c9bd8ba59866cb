// The branch dashboard's chart (ECharts, served from static; Chinese locale when the page is).
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("daily-chart");
    var data = document.getElementById("daily-chart-data");
    if (!el || !data || !window.echarts) return;
    var d = JSON.parse(data.textContent);
    var zh = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
    var names = zh ? ["营收（元）", "就诊人次", "预约数"] : ["Revenue (yuan)", "Visits", "Bookings"];
    var chart = window.echarts.init(el, null, { locale: zh ? "ZH" : "EN", renderer: "canvas" });
    chart.setOption({
      aria: { enabled: true },
      tooltip: { trigger: "axis" },
      legend: { data: names, top: 0 },
      grid: { left: 50, right: 50, bottom: 30, top: 64 },
      xAxis: { type: "category", data: d.days },
      yAxis: [{ type: "value", name: names[0] }, { type: "value", name: names[1] }],
      series: [
        { name: names[0], type: "bar", data: d.revenue },
        { name: names[1], type: "line", yAxisIndex: 1, data: d.visits },
        { name: names[2], type: "line", yAxisIndex: 1, data: d.bookings },
      ],
    });
    el.setAttribute("data-rendered", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
