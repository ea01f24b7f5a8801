/*
 * The form editor's live preview: as the analyst types the JSON definition, the preview beside it is
 * rendered again by the portal (the same macros as the task page), a moment after the typing pauses.
 *
 *   <form data-form-editor data-preview-url="/studio/forms/fee_payment/preview"> ... <textarea name="definition">
 *   <p data-live-hint hidden>...</p>            shown once the preview is live
 *   <p data-preview-status data-updated-text="Preview updated"></p>   announced after each update
 *   <div data-preview-region> (the server-rendered preview) </div>
 *
 * The form's own fields (csrf_token, definition) are posted; the answer is the preview fragment, or 422
 * with the reason the definition cannot be read — then the last good preview stays and the reason is shown
 * above it. Without JavaScript the form's Preview button does the same with a page load.
 * The region gets data-preview-count (updates so far) and data-preview-state ("fresh", "broken", "failed").
 */
(function () {
  'use strict';

  var DELAY_MS = 400;

  function LivePreview(form) {
    this.form = form;
    this.url = form.getAttribute('data-preview-url');
    this.textarea = form.querySelector('textarea[name="definition"]');
    this.region = document.querySelector('[data-preview-region]');
    this.statusEl = document.querySelector('[data-preview-status]');
    this.timer = null;
    this.sequence = 0;
    this.count = 0;
  }

  LivePreview.prototype.start = function () {
    if (!this.url || !this.textarea || !this.region) {
      return;
    }
    var self = this;
    this.textarea.addEventListener('input', function () {
      clearTimeout(self.timer);
      self.timer = setTimeout(function () { self.refresh(); }, DELAY_MS);
    });
    var hint = document.querySelector('[data-live-hint]');
    if (hint) {
      hint.hidden = false;
    }
    this.region.setAttribute('data-preview-live', 'true');
  };

  LivePreview.prototype.refresh = async function () {
    var mine = ++this.sequence;
    var body = new FormData(this.form);
    body.delete('action');
    var meta = document.querySelector('meta[name="csrf-token"]');
    try {
      var response = await fetch(this.url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'text/html', 'X-CSRFToken': meta ? meta.getAttribute('content') : '' },
        body: body
      });
      var html = await response.text();
      if (mine !== this.sequence) {
        return; // a later keystroke's answer is on its way
      }
      if (response.ok) {
        this.region.innerHTML = html;
        this.settle('fresh');
      } else if (response.status === 422) {
        this.showReason(html);
        this.settle('broken');
      } else {
        this.settle('failed');
      }
    } catch (error) {
      if (mine === this.sequence) {
        this.settle('failed');
      }
    }
  };

  /** Keep the last good preview; put the reason from the answer above it. */
  LivePreview.prototype.showReason = function (html) {
    var answer = document.createElement('div');
    answer.innerHTML = html;
    var reason = answer.querySelector('[data-preview-error]');
    var old = this.region.querySelector('[data-preview-error]');
    if (old) {
      old.remove();
    }
    if (reason) {
      var preview = this.region.querySelector('[data-form-preview]');
      this.region.insertBefore(reason, preview || this.region.firstChild);
    }
  };

  LivePreview.prototype.settle = function (state) {
    this.count += 1;
    this.region.setAttribute('data-preview-state', state);
    this.region.setAttribute('data-preview-count', String(this.count));
    if (this.statusEl && state === 'fresh') {
      this.statusEl.textContent = this.statusEl.getAttribute('data-updated-text') || 'Preview updated';
    }
  };

  function init() {
    document.querySelectorAll('form[data-form-editor]').forEach(function (form) {
      new LivePreview(form).start();
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
