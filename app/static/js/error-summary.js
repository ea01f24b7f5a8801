/*
 * Move the keyboard focus to the error summary of a form page (#error-summary, tabindex="-1"), so a
 * screen reader reads the problems first and Tab continues from there. Browsers that honour the
 * summary's autofocus attribute have done it already; this covers those that do not. The page works
 * without it.
 */
(function () {
  'use strict';

  function focusSummary() {
    var summary = document.getElementById('error-summary');
    if (summary && document.activeElement !== summary && document.activeElement === document.body) {
      summary.focus();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', focusSummary);
  } else {
    focusSummary();
  }
})();
