/*
 * The in-portal BPMN editor: bpmn-js with the Camunda 7 properties panel and the bundle's element templates.
 *
 * Needs vendor/bpmn-modeler.js (window.PortalBpmnModeler), vendor/bpmn-modeler.css, css/diagram.css,
 * js/studio-common.js (window.PortalStudio) and <meta name="csrf-token" content="...">.
 *
 *   <div data-bpmn-modeler data-xml-url="/bundle/specialized_inspection.bpmn"
 *        data-templates-url="/bundle/element-templates" data-save-url="/bundle/specialized_inspection.bpmn"
 *        data-problems-url="/bundle/problems" data-revision="7" data-messages='{...}'>
 *     <!-- optional; created when absent -->
 *     <div data-modeler-canvas></div> <div data-modeler-properties></div>
 *     <button type="button" data-modeler-save>Save</button>
 *     <p data-modeler-status></p> <div data-modeler-conflict></div> <ul data-modeler-problems></ul>
 *   </div>
 *
 * The element templates are offered under "Templates" in the palette's "Create element" menu and the
 * context pad's "Append element" and "Change element" menus; the properties panel's template "Select"
 * opens a chooser. An element created from a template comes with the template applied.
 *
 * When the diagram is open, the working copy's current problems (data-problems-url) are listed and
 * marked; an address ending in #element_id selects that element and scrolls to it.
 * Save posts {"xml": "...", "revision": N, "file_revision": "…"} as JSON with the X-CSRFToken header.
 * The answer is a list of problems [{element_id, element_name, message, file, line}] or an object with
 * "problems" (and the new "revision" and "file_revision"); each problem is listed with the element's name
 * and id, its element gets the lint-error marker, and clicking it selects the element and scrolls to it.
 * HTTP 409 (someone saved this file since) shows a conflict notice with a download of the analyst's
 * version and a reload button.
 * The container gets data-rendered="true" once the diagram is open (data-error on failure),
 * data-problems="N" whenever the list changes, data-saved="true" / "false" after each save and
 * data-conflict="true" after a refused one. window.portalModeler is the bpmn-js Modeler.
 */
(function () {
  'use strict';

  var studio = window.PortalStudio;

  function PortalModeler(container) {
    this.container = container;
    this.t = studio.messages(container);
    this.canvasEl = studio.part(container, 'data-modeler-canvas', 'div');
    this.propertiesEl = studio.part(container, 'data-modeler-properties', 'div');
    this.saveButton = studio.part(container, 'data-modeler-save', 'button', function (button) {
      button.type = 'button';
      button.textContent = 'Save';
    });
    this.statusEl = studio.part(container, 'data-modeler-status', 'p');
    this.statusEl.setAttribute('role', 'status');
    this.problemsEl = studio.part(container, 'data-modeler-problems', 'ul');
    this.problemsEl.setAttribute('aria-label', this.t('problemsLabel'));
    this.lintMarked = [];
    this.revision = null;
    this.fileRevision = null;
    container.classList.add('bpmn-modeler');
    this.canvasEl.classList.add('modeler-canvas');
    this.propertiesEl.classList.add('modeler-properties');
    this.problemsEl.classList.add('modeler-problems');
    if (!this.canvasEl.hasAttribute('aria-label')) {
      this.canvasEl.setAttribute('aria-label', 'Process diagram editor');
    }
  }

  PortalModeler.prototype.status = function (text) {
    this.statusEl.textContent = text;
  };

  PortalModeler.prototype.open = async function () {
    var lib = window.PortalBpmnModeler;
    if (!lib) {
      throw new Error('vendor/bpmn-modeler.js is not loaded');
    }
    var container = this.container;
    var t = this.t;
    var templatesUrl = container.getAttribute('data-templates-url');
    var loads = await Promise.all([
      studio.fetchOk(container.getAttribute('data-xml-url'), 'application/xml, text/xml'),
      templatesUrl ? studio.fetchOk(templatesUrl, 'application/json').then(function (r) { return r.json(); }) : []
    ]);
    this.revision = studio.revisionOf(container, loads[0]);
    this.fileRevision = studio.fileRevisionOf(container, loads[0]);
    var xml = await loads[0].text();
    var templates = loads[1];

    var modeler = this.modeler = new lib.Modeler({
      container: this.canvasEl,
      propertiesPanel: { parent: this.propertiesEl },
      additionalModules: lib.camundaPlatformModules,
      moddleExtensions: { camunda: lib.camundaModdleDescriptor }
    });

    var templateErrors = [];
    modeler.on('elementTemplates.errors', function (event) {
      event.errors.forEach(function (error) { templateErrors.push(error.message); });
    });
    modeler.get('elementTemplatesLoader').setTemplates(templates);

    var result = await modeler.importXML(xml);
    var self = this;
    modeler.on('commandStack.changed', function () {
      container.setAttribute('data-dirty', 'true');
      self.status(t('unsaved'));
    });
    this.saveButton.addEventListener('click', function () { self.save(); });
    window.addEventListener('beforeunload', function (event) {
      if (container.getAttribute('data-dirty') === 'true') {
        event.preventDefault();
        event.returnValue = '';
      }
    });
    window.addEventListener('hashchange', function () { self.revealWanted(); });

    modeler.get('canvas').zoom('fit-viewport', 'auto');
    container.setAttribute('data-templates', String(modeler.get('elementTemplates').getAll().length));
    if (templateErrors.length) {
      container.setAttribute('data-template-errors', templateErrors.join('\n'));
    }
    if (result.warnings && result.warnings.length) {
      container.setAttribute('data-warnings', String(result.warnings.length));
    }
    this.status(templateErrors.length ? t('templatesInvalid', { n: templateErrors.length }) : '');
    window.portalModeler = modeler;
    window.portalModelerEditor = this;

    await studio.showCurrentProblems(this, templateErrors.length > 0);
    this.revealWanted();
    container.setAttribute('data-rendered', 'true');
  };

  PortalModeler.prototype.save = function () {
    var modeler = this.modeler;
    return studio.saveWithRevision(this, async function () {
      return (await modeler.saveXML({ format: true })).xml;
    });
  };

  PortalModeler.prototype.showProblems = function (problems) {
    var canvas = this.modeler.get('canvas');
    var registry = this.modeler.get('elementRegistry');
    var self = this;
    this.lintMarked.forEach(function (id) {
      if (registry.get(id)) {
        canvas.removeMarker(id, 'lint-error');
      }
    });
    this.lintMarked = [];
    problems.forEach(function (problem) {
      var element = problem.element_id ? registry.get(problem.element_id) : null;
      if (element && self.lintMarked.indexOf(element.id) === -1) {
        canvas.addMarker(element, 'lint-error');
        self.lintMarked.push(element.id);
      }
    });
    studio.listProblems(this.problemsEl, problems, {
      nameOf: function (id) {
        var element = registry.get(id);
        return element && element.businessObject ? element.businessObject.name : null;
      },
      canReveal: function (problem) { return Boolean(registry.get(problem.element_id)); },
      reveal: function (id) { self.reveal(id); }
    });
    this.container.setAttribute('data-problems', String(problems.length));
  };

  /** Reveal the element the address names (#element_id), if the diagram has it. */
  PortalModeler.prototype.revealWanted = function () {
    var id = studio.wantedElement();
    if (id && this.modeler.get('elementRegistry').get(id)) {
      this.reveal(id);
      this.container.setAttribute('data-revealed', id);
    }
  };

  /** Select the element with this id and bring it into view. */
  PortalModeler.prototype.reveal = function (id) {
    var element = this.modeler.get('elementRegistry').get(id);
    if (!element) {
      return;
    }
    var canvas = this.modeler.get('canvas');
    var root = canvas.findRoot(element);
    if (root && root !== canvas.getRootElement()) {
      canvas.setRootElement(root); // the element lives in a collapsed subprocess
    }
    this.modeler.get('selection').select(element);
    canvas.scrollToElement(element);
    canvas.focus();
  };

  function init() {
    document.querySelectorAll('[data-bpmn-modeler]').forEach(function (container) {
      var editor = new PortalModeler(container);
      container.portalModeler = editor;
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
