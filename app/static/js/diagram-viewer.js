/*
 * Read-only process diagrams with the consignment's progress, or the changes between two versions,
 * marked on them.
 *
 * Needs vendor/bpmn-viewer.js (window.PortalBpmnViewer), vendor/bpmn-viewer.css and css/diagram.css.
 *
 *   <div data-bpmn-viewer data-xml-url="/versions/3/bpmn"
 *        data-completed="registered lookup_declaration" data-current="record_sampling"
 *        data-overdue="port_move" aria-label="Process of consignment 106865793030"></div>
 *
 *   <div data-bpmn-viewer data-xml-url="/versions/3/bpmn" data-added="payment_sla"
 *        data-changed="record_sampling" data-removed="nominate_containers"
 *        data-marker-labels='{"added": "thêm", ...}'></div>
 *
 * Each id gets the marker class step-completed, step-current, step-overdue, diff-added, diff-changed or
 * diff-removed and a small text badge, so the state reads without colour too. data-marker-labels gives
 * the words of the badges' titles and of the summary added to aria-label (English by default).
 * When the diagram is shown the container gets data-rendered="true"; on failure data-error holds the
 * message. Ids that are not in the diagram are listed in data-missing.
 * The container is one tab stop: arrow keys pan, + and - zoom, 0 fits the whole diagram.
 */
(function () {
  'use strict';

  var MARKERS = [
    { attribute: 'data-completed', marker: 'step-completed', badge: '\u2713', label: 'completed' },
    { attribute: 'data-current', marker: 'step-current', badge: '\u25B6', label: 'current' },
    { attribute: 'data-overdue', marker: 'step-overdue', badge: '!', label: 'overdue' },
    { attribute: 'data-added', marker: 'diff-added', badge: '+', label: 'added' },
    { attribute: 'data-changed', marker: 'diff-changed', badge: '\u270E', label: 'changed' },
    { attribute: 'data-removed', marker: 'diff-removed', badge: '\u2212', label: 'removed' }
  ];
  var SCROLL_STEP = 50;

  function splitIds(value) {
    return (value || '').split(/\s+/).filter(Boolean);
  }

  function elementName(element) {
    var businessObject = element.businessObject || {};
    return businessObject.name || element.id;
  }

  async function fetchText(url) {
    var response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/xml, text/xml' } });
    if (!response.ok) {
      throw new Error('Could not load the diagram (HTTP ' + response.status + ')');
    }
    return response.text();
  }

  function fit(canvas) {
    canvas.zoom('fit-viewport', 'auto');
  }

  function bindKeys(container, canvas) {
    container.addEventListener('keydown', function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey) {
        return;
      }
      var handled = true;
      switch (event.key) {
        case 'ArrowLeft': canvas.scroll({ dx: SCROLL_STEP, dy: 0 }); break;
        case 'ArrowRight': canvas.scroll({ dx: -SCROLL_STEP, dy: 0 }); break;
        case 'ArrowUp': canvas.scroll({ dx: 0, dy: SCROLL_STEP }); break;
        case 'ArrowDown': canvas.scroll({ dx: 0, dy: -SCROLL_STEP }); break;
        case '+': case '=': canvas.zoom(canvas.zoom() * 1.2); break;
        case '-': case '_': canvas.zoom(canvas.zoom() / 1.2); break;
        case '0': fit(canvas); break;
        default: handled = false;
      }
      if (handled) {
        event.preventDefault();
      }
    });
  }

  function markProgress(container, viewer) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    var missing = [];
    var summary = [];
    var words = {};
    try {
      words = JSON.parse(container.getAttribute('data-marker-labels') || '{}') || {};
    } catch (error) {
      words = {};
    }

    MARKERS.forEach(function (kind) {
      var names = [];
      splitIds(container.getAttribute(kind.attribute)).forEach(function (id) {
        var element = registry.get(id);
        if (!element) {
          missing.push(id);
          return;
        }
        canvas.addMarker(id, kind.marker);
        names.push(elementName(element));
        if (element.waypoints) {
          return; // a sequence flow: the stroke says it all
        }
        var badge = document.createElement('span');
        badge.className = 'step-badge step-badge-' + kind.label;
        badge.textContent = kind.badge;
        badge.title = words[kind.label] || kind.label;
        overlays.add(id, 'progress', { position: { top: -10, right: 10 }, html: badge });
      });
      if (names.length && kind.label !== 'completed') {
        summary.push((words[kind.label] || kind.label) + ': ' + names.join(', '));
      } else if (names.length) {
        summary.push(names.length + ' ' + (words.completed || 'completed'));
      }
    });

    if (missing.length) {
      container.setAttribute('data-missing', missing.join(' '));
    }
    return summary;
  }

  async function render(container) {
    var Viewer = window.PortalBpmnViewer && window.PortalBpmnViewer.NavigatedViewer;
    var label = container.getAttribute('aria-label') || 'Process diagram';
    container.setAttribute('aria-label', label);
    if (!container.hasAttribute('tabindex')) {
      container.tabIndex = 0;
    }
    if (!container.hasAttribute('role')) {
      container.setAttribute('role', 'img');
    }
    container.classList.add('bpmn-viewer');
    container.setAttribute('aria-busy', 'true');

    try {
      if (!Viewer) {
        throw new Error('vendor/bpmn-viewer.js is not loaded');
      }
      var xml = await fetchText(container.getAttribute('data-xml-url'));
      var viewer = new Viewer({ container: container, keyboard: { bind: false } });
      container.portalViewer = viewer;
      var result = await viewer.importXML(xml);
      var canvas = viewer.get('canvas');
      // One tab stop: the container, not the SVG inside it.
      container.querySelectorAll('svg[tabindex]').forEach(function (svg) { svg.setAttribute('tabindex', '-1'); });
      fit(canvas);
      bindKeys(container, canvas);
      var summary = markProgress(container, viewer);
      if (summary.length) {
        container.setAttribute('aria-label', label + '. ' + summary.join('; ') + '.');
      }
      if (result.warnings && result.warnings.length) {
        container.setAttribute('data-warnings', String(result.warnings.length));
      }
      container.setAttribute('data-rendered', 'true');
    } catch (error) {
      var message = (error && error.message) || String(error);
      container.setAttribute('data-error', message);
      var note = document.createElement('p');
      note.className = 'diagram-error';
      note.setAttribute('role', 'alert');
      note.textContent = 'The diagram could not be shown: ' + message;
      container.appendChild(note);
    } finally {
      container.removeAttribute('aria-busy');
    }
  }

  function init() {
    document.querySelectorAll('[data-bpmn-viewer]').forEach(function (container) {
      render(container);
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
