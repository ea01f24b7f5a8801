/*
 * The in-portal DMN editor (decision tables, literal expressions, the decision diagram) built on dmn-js.
 *
 * Needs vendor/dmn-modeler.js (window.PortalDmnModeler), vendor/dmn-modeler.css, css/diagram.css,
 * js/studio-common.js (window.PortalStudio) and <meta name="csrf-token" content="..."> (for saving).
 *
 *   <div data-dmn-modeler data-xml-url="/bundle/lead_agency.dmn" data-save-url="/bundle/lead_agency.dmn"
 *        data-problems-url="/bundle/problems" data-revision="7" data-open="lead_agency"></div>
 *
 * data-open names the decision to show first (default: the only decision, else the diagram); an address
 * ending in #element_id opens the decision holding that rule or column and highlights it.
 * data-readonly opens the viewer instead of the modeler, without a Save button.
 * Optional children, created when absent: [data-dmn-views] (tabs, one per view), [data-dmn-canvas],
 * [data-modeler-save], [data-modeler-status], [data-modeler-conflict], [data-modeler-problems].
 *
 * When the model is open the working copy's current problems (data-problems-url) are listed. Save posts
 * {"xml": "...", "revision": N, "file_revision": "…"} as JSON with the X-CSRFToken header; the answer's
 * problems [{element_id, element_name, message, file, line}] are listed with the element's name and id,
 * and clicking one opens its decision and highlights the rule or column. HTTP 409 (someone saved this
 * file since) shows a conflict notice with a download of the analyst's version and a reload button. The container gets
 * data-rendered="true" (data-error on failure), data-view (the id of the open view), data-problems,
 * and, after each save, data-saved (and data-conflict after a refused one). window.portalDmnModeler is
 * the dmn-js instance.
 */
(function () {
  'use strict';

  var studio = window.PortalStudio;

  function viewLabel(view, t) {
    if (view.type === 'drd') {
      return t('diagram');
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
    this.t = studio.messages(container);
    this.revision = null;
    this.fileRevision = null;
    this.readonly = container.hasAttribute('data-readonly');
    this.tabsEl = studio.part(container, 'data-dmn-views', 'div');
    this.tabsEl.setAttribute('role', 'tablist');
    this.tabsEl.setAttribute('aria-label', 'Views of the decision model');
    this.canvasEl = studio.part(container, 'data-dmn-canvas', 'div');
    if (!this.readonly) {
      this.saveButton = studio.part(container, 'data-modeler-save', 'button', function (button) {
        button.type = 'button';
        button.textContent = 'Save';
      });
    }
    this.statusEl = studio.part(container, 'data-modeler-status', 'p');
    this.statusEl.setAttribute('role', 'status');
    this.problemsEl = studio.part(container, 'data-modeler-problems', 'ul');
    this.problemsEl.setAttribute('aria-label', this.t('problemsLabel'));
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
    var t = this.t;
    var response = await studio.fetchOk(container.getAttribute('data-xml-url'), 'application/xml, text/xml');
    this.revision = studio.revisionOf(container, response);
    this.fileRevision = studio.fileRevisionOf(container, response);
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
            self.status(t('unsaved'));
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

    if (!this.readonly) {
      await studio.showCurrentProblems(this, false);
    }
    window.addEventListener('hashchange', function () { self.revealWanted(); });
    await this.revealWanted();
    container.setAttribute('data-rendered', 'true');
  };

  /** Open and highlight the element the address names (#element_id), if the model has it. */
  DmnEditor.prototype.revealWanted = async function () {
    var id = studio.wantedElement();
    if (id && this.viewOf(id)) {
      await this.reveal(id);
    }
  };

  /** The decision view holding the element with this id (undefined when none does). */
  DmnEditor.prototype.viewOf = function (id) {
    return this.dmn.getViews().filter(function (candidate) {
      return candidate.type !== 'drd' && contains(candidate.element, id);
    })[0];
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
      tab.textContent = viewLabel(view, self.t);
      tab.addEventListener('click', function () { self.dmn.open(view); });
      self.tabsEl.appendChild(tab);
    });
  };

  DmnEditor.prototype.save = function () {
    var dmn = this.dmn;
    return studio.saveWithRevision(this, async function () {
      return (await dmn.saveXML({ format: true })).xml;
    });
  };

  DmnEditor.prototype.showProblems = function (problems) {
    var self = this;
    var own = this.container.getAttribute('data-file-name');
    studio.listProblems(this.problemsEl, problems, {
      canReveal: function (problem) {
        return (!own || !problem.file || problem.file === own) && Boolean(self.viewOf(problem.element_id));
      },
      reveal: function (id) { self.reveal(id); }
    });
    this.container.setAttribute('data-problems', String(problems.length));
  };

  /** Open the view holding the element with this id and highlight its cells. */
  DmnEditor.prototype.reveal = async function (id) {
    var view = this.viewOf(id);
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
        editor.status(editor.t('openFailed', { reason: message }));
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
