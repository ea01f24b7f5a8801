/*
 * Charts on the manager dashboard, drawn with Chart.js (vendor/chart.umd.js, window.Chart).
 *
 *   <canvas data-chart='{"type": "bar", "data": {"labels": ["RAHO6"], "datasets": [{"label": "Overdue",
 *           "data": [3]}]}}' aria-label="Overdue consignments by agency" aria-describedby="overdue-table">
 *   </canvas>
 *   <table id="overdue-table">...</table>  (the same figures as text; the page provides it)
 *
 * The attribute holds a Chart.js config (type, data, optional options). The canvas gets data-rendered="true"
 * when drawn, or data-error with the message. Animations are off when the user prefers reduced motion.
 */
(function () {
  'use strict';

  function render(canvas) {
    try {
      if (!window.Chart) {
        throw new Error('vendor/chart.umd.js is not loaded');
      }
      var config = JSON.parse(canvas.getAttribute('data-chart'));
      if (!config || !config.type || !config.data) {
        throw new Error('data-chart needs "type" and "data"');
      }
      config.options = config.options || {};
      if (config.options.responsive === undefined) {
        config.options.responsive = true;
      }
      if (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches) {
        config.options.animation = false;
      }
      if (!canvas.hasAttribute('role')) {
        canvas.setAttribute('role', 'img');
      }
      if (!canvas.hasAttribute('aria-label')) {
        var title = config.options.plugins && config.options.plugins.title && config.options.plugins.title.text;
        canvas.setAttribute('aria-label', title || 'Chart; the figures are in the table below');
      }
      var chart = new window.Chart(canvas, config);
      canvas.portalChart = chart;
      canvas.setAttribute('data-rendered', 'true');
    } catch (error) {
      canvas.setAttribute('data-error', (error && error.message) || String(error));
    }
  }

  function init() {
    document.querySelectorAll('canvas[data-chart]').forEach(render);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
