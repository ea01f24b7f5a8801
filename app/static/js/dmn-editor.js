/*
 * The in-portal DMN editor (decision tables, literal expressions, the decision diagram) built on dmn-js.
 *
 * Needs vendor/dmn-modeler.js (window.PortalDmnModeler), vendor/dmn-modeler.css, css/diagram.css and
 * <meta name="csrf-token" content="..."> (for saving).
 *
 *   <div data-dmn-modeler data-xml-url="/bundle/lead_agency.dmn" data-save-url="/bundle/lead_agency.dmn"
 *        data-open="lead_agency"></div>
 *
 * data-open names the decision to show first (default: the only decision, else the diagram).
 * data-readonly opens the viewer instead of the modeler, without a Save button.
 * Optional children, created when absent: [data-dmn-views] (tabs, one per view), [data-dmn-canvas],
 * [data-modeler-save], [data-modeler-status], [data-modeler-problems].
 *
 * Save posts {"xml": "..."} as JSON with the X-CSRFToken header; the answer's problems
 * [{element_id, message, file, line}] are listed and clicking one opens its decision and highlights the
 * rule or column. The container gets data-rendered="true" (data-error on failure), data-view (the id of the
 * open view) and, after each save, data-saved and data-problems. window.portalDmnModeler is the dmn-js
 * instance.
 */
(function () {
  'use strict';

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  function part(container, attribute, tag, init) {
    var element = container.querySelector('[' + attribute + ']');
    if (!element) {
      element = document.createElement(tag);
      element.setAttribute(attribute, '');
      if (init) {
        init(element);
      }
      container.appendChild(element);
    }
    return element;
  }

  function problemsOf(body) {
    if (Array.isArray(body)) {
      return body;
    }
    return (body && Array.isArray(body.problems)) ? body.problems : [];
  }

  function describe(problem) {
    var where = [];
    if (problem.element_id) {
      where.push(problem.element_id);
    }
    if (problem.file) {
      where.push(problem.file + (problem.line ? ':' + problem.line : ''));
    }
    return (where.length ? where.join(' \u2014 ') + ': ' : '') + (problem.message || 'problem');
  }

  function viewLabel(view) {
    if (view.type === 'drd') {
      return 'Decision diagram';
    }
    return (view.element && (view.element.name || view.element.id)) || view.type;
  }

  /** True when the model element with this id is, or lies inside, the view's element. */
  function contains(root, id) {
    var seen = [];
    function walk(node) {
      if (!node || typeof node !== 'object' || seen.indexOf(node) !== -1) {
        return false;
      }
      seen.push(node);
      if (node.id === id) {
        return true;
      }
      var keys = ['decisionLogic', 'input', 'output', 'rule', 'inputEntry', 'outputEntry', 'inputExpression'];
      for (var i = 0; i < keys.length; i++) {
        var value = node[keys[i]];
        var children = Array.isArray(value) ? value : [value];
        for (var j = 0; j < children.length; j++) {
          if (walk(children[j])) {
            return true;
          }
        }
      }
      return false;
    }
    return walk(root);
  }

  function DmnEditor(container) {
    this.container = container;
    this.readonly = container.hasAttribute('data-readonly');
    this.tabsEl = part(container, 'data-dmn-views', 'div');
    this.tabsEl.setAttribute('role', 'tablist');
    this.tabsEl.setAttribute('aria-label', 'Views of the decision model');
    this.canvasEl = part(container, 'data-dmn-canvas', 'div');
    if (!this.readonly) {
      this.saveButton = part(container, 'data-modeler-save', 'button', function (button) {
        button.type = 'button';
        button.textContent = 'Save';
      });
    }
    this.statusEl = part(container, 'data-modeler-status', 'p');
    this.statusEl.setAttribute('role', 'status');
    this.problemsEl = part(container, 'data-modeler-problems', 'ul');
    this.problemsEl.setAttribute('aria-label', 'Problems');
    container.classList.add('dmn-editor');
    this.tabsEl.classList.add('dmn-views');
    this.canvasEl.classList.add('dmn-canvas');
    this.problemsEl.classList.add('modeler-problems');
  }

  DmnEditor.prototype.status = function (text) {
    this.statusEl.textContent = text;
  };

  DmnEditor.prototype.open = async function () {
    var lib = window.PortalDmnModeler;
    if (!lib) {
      throw new Error('vendor/dmn-modeler.js is not loaded');
    }
    var container = this.container;
    var response = await fetch(container.getAttribute('data-xml-url'), {
      credentials: 'same-origin', headers: { Accept: 'application/xml, text/xml' }
    });
    if (!response.ok) {
      throw new Error('Could not load the decision model (HTTP ' + response.status + ')');
    }
    var xml = await response.text();
    var Editor = this.readonly ? lib.Viewer : lib.Modeler;
    var dmn = this.dmn = new Editor({ container: this.canvasEl });
    var self = this;
    dmn.on('views.changed', function (event) {
      self.renderTabs(event.views, event.activeView);
    });
    var result = await dmn.importXML(xml);

    var views = dmn.getViews();
    var wanted = container.getAttribute('data-open');
    var decisions = views.filter(function (view) { return view.type !== 'drd'; });
    var first = wanted
      ? views.filter(function (view) { return view.element && view.element.id === wanted; })[0]
      : (decisions.length === 1 ? decisions[0] : null);
    if (first && first !== dmn.getActiveView()) {
      await dmn.open(first);
    }
    this.renderTabs(dmn.getViews(), dmn.getActiveView());

    if (!this.readonly) {
      var watch = function () {
        var viewer = dmn.getActiveViewer();
        if (viewer && !viewer.portalWatched) {
          viewer.portalWatched = true;
          viewer.on('commandStack.changed', function () {
            container.setAttribute('data-dirty', 'true');
            self.status('Unsaved changes');
          });
        }
      };
      dmn.on('views.changed', watch);
      watch();
      this.saveButton.addEventListener('click', function () { self.save(); });
    }
    if (result.warnings && result.warnings.length) {
      container.setAttribute('data-warnings', String(result.warnings.length));
    }
    window.portalDmnModeler = dmn;
    window.portalDmnEditor = this;
    container.setAttribute('data-rendered', 'true');
  };

  DmnEditor.prototype.renderTabs = function (views, activeView) {
    var self = this;
    this.tabsEl.textContent = '';
    this.container.setAttribute('data-view', activeView && activeView.element ? activeView.element.id : '');
    views.forEach(function (view) {
      var tab = document.createElement('button');
      var active = view === activeView;
      tab.type = 'button';
      tab.className = 'dmn-view-tab';
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-selected', active ? 'true' : 'false');
      tab.setAttribute('data-view-id', view.element ? view.element.id : '');
      tab.textContent = viewLabel(view);
      tab.addEventListener('click', function () { self.dmn.open(view); });
      self.tabsEl.appendChild(tab);
    });
  };

  DmnEditor.prototype.save = async function () {
    var container = this.container;
    this.saveButton.disabled = true;
    container.setAttribute('aria-busy', 'true');
    container.removeAttribute('data-saved');
    this.status('Saving\u2026');
    try {
      var saved = await this.dmn.saveXML({ format: true });
      var response = await fetch(container.getAttribute('data-save-url'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrfToken() },
        body: JSON.stringify({ xml: saved.xml })
      });
      var body = null;
      if ((response.headers.get('Content-Type') || '').indexOf('json') !== -1) {
        body = await response.json();
      }
      var problems = problemsOf(body);
      this.showProblems(problems);
      if (!response.ok && !problems.length) {
        throw new Error((body && (body.message || body.error)) || 'HTTP ' + response.status);
      }
      if (response.ok && !problems.length) {
        container.removeAttribute('data-dirty');
      }
      this.status(problems.length ? problems.length + ' problem(s) found' : 'Saved');
      container.setAttribute('data-saved', 'true');
    } catch (error) {
      this.status('Not saved: ' + ((error && error.message) || error));
      container.setAttribute('data-saved', 'false');
    } finally {
      this.saveButton.disabled = false;
      container.removeAttribute('aria-busy');
    }
  };

  DmnEditor.prototype.showProblems = function (problems) {
    var self = this;
    this.problemsEl.textContent = '';
    this.container.setAttribute('data-problems', String(problems.length));
    problems.forEach(function (problem) {
      var item = document.createElement('li');
      if (problem.element_id) {
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'problem-link';
        button.setAttribute('data-element-id', problem.element_id);
        button.textContent = describe(problem);
        button.addEventListener('click', function () { self.reveal(problem.element_id); });
        item.appendChild(button);
      } else {
        item.textContent = describe(problem);
      }
      self.problemsEl.appendChild(item);
    });
  };

  /** Open the view holding the element with this id and highlight its cells. */
  DmnEditor.prototype.reveal = async function (id) {
    var view = this.dmn.getViews().filter(function (candidate) {
      return candidate.type !== 'drd' && contains(candidate.element, id);
    })[0];
    if (view && view !== this.dmn.getActiveView()) {
      await this.dmn.open(view);
    }
    this.canvasEl.querySelectorAll('.lint-error').forEach(function (cell) { cell.classList.remove('lint-error'); });
    var cells = this.canvasEl.querySelectorAll(
      '[data-row-id="' + CSS.escape(id) + '"], [data-col-id="' + CSS.escape(id) + '"], [data-element-id="' +
      CSS.escape(id) + '"]');
    cells.forEach(function (cell) { cell.classList.add('lint-error'); });
    if (cells.length) {
      cells[0].scrollIntoView({ block: 'center', inline: 'nearest' });
    }
    this.container.setAttribute('data-revealed', id);
  };

  function init() {
    document.querySelectorAll('[data-dmn-modeler]').forEach(function (container) {
      var editor = new DmnEditor(container);
      container.portalDmnEditor = editor;
      editor.open().catch(function (error) {
        var message = (error && error.message) || String(error);
        container.setAttribute('data-error', message);
        editor.status('The editor could not open the decision model: ' + message);
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
