/*
 * The in-portal BPMN editor: bpmn-js with the Camunda 7 properties panel and the bundle's element templates.
 *
 * Needs vendor/bpmn-modeler.js (window.PortalBpmnModeler), vendor/bpmn-modeler.css, css/diagram.css and
 * <meta name="csrf-token" content="...">.
 *
 *   <div data-bpmn-modeler data-xml-url="/bundle/specialized_inspection.bpmn"
 *        data-templates-url="/bundle/element-templates" data-save-url="/bundle/specialized_inspection.bpmn">
 *     <!-- optional; created when absent -->
 *     <div data-modeler-canvas></div> <div data-modeler-properties></div>
 *     <button type="button" data-modeler-save>Save</button>
 *     <p data-modeler-status></p> <ul data-modeler-problems></ul>
 *   </div>
 *
 * Save posts {"xml": "..."} as JSON with the X-CSRFToken header. The answer is a list of problems
 * [{element_id, message, file, line}] or an object with a "problems" list; each problem is listed, its
 * element gets the lint-error marker, and clicking it selects the element and scrolls to it.
 * The container gets data-rendered="true" once the diagram is open (data-error on failure) and
 * data-saved="true" / data-problems="N" after each save. window.portalModeler is the bpmn-js Modeler.
 */
(function () {
  'use strict';

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /** Return the child matching selector, or create it with tag and the data attribute. */
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

  async function fetchOk(url, accept) {
    var response = await fetch(url, { credentials: 'same-origin', headers: { Accept: accept } });
    if (!response.ok) {
      throw new Error('Could not load ' + url + ' (HTTP ' + response.status + ')');
    }
    return response;
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

  function PortalModeler(container) {
    this.container = container;
    this.canvasEl = part(container, 'data-modeler-canvas', 'div');
    this.propertiesEl = part(container, 'data-modeler-properties', 'div');
    this.saveButton = part(container, 'data-modeler-save', 'button', function (button) {
      button.type = 'button';
      button.textContent = 'Save';
    });
    this.statusEl = part(container, 'data-modeler-status', 'p');
    this.statusEl.setAttribute('role', 'status');
    this.problemsEl = part(container, 'data-modeler-problems', 'ul');
    this.problemsEl.setAttribute('aria-label', 'Problems');
    this.lintMarked = [];
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
    var templatesUrl = container.getAttribute('data-templates-url');
    var loads = await Promise.all([
      fetchOk(container.getAttribute('data-xml-url'), 'application/xml, text/xml').then(function (r) { return r.text(); }),
      templatesUrl ? fetchOk(templatesUrl, 'application/json').then(function (r) { return r.json(); }) : []
    ]);
    var xml = loads[0];
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
      self.status('Unsaved changes');
    });
    this.saveButton.addEventListener('click', function () { self.save(); });
    window.addEventListener('beforeunload', function (event) {
      if (container.getAttribute('data-dirty') === 'true') {
        event.preventDefault();
        event.returnValue = '';
      }
    });

    modeler.get('canvas').zoom('fit-viewport', 'auto');
    container.setAttribute('data-templates', String(modeler.get('elementTemplates').getAll().length));
    if (templateErrors.length) {
      container.setAttribute('data-template-errors', templateErrors.join('\n'));
    }
    if (result.warnings && result.warnings.length) {
      container.setAttribute('data-warnings', String(result.warnings.length));
    }
    this.status(templateErrors.length ? templateErrors.length + ' element templates are invalid' : '');
    window.portalModeler = modeler;
    window.portalModelerEditor = this;
    container.setAttribute('data-rendered', 'true');
  };

  PortalModeler.prototype.save = async function () {
    var container = this.container;
    var button = this.saveButton;
    button.disabled = true;
    container.setAttribute('aria-busy', 'true');
    container.removeAttribute('data-saved');
    this.status('Saving\u2026');
    try {
      var saved = await this.modeler.saveXML({ format: true });
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
      button.disabled = false;
      container.removeAttribute('aria-busy');
    }
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
    this.problemsEl.textContent = '';
    this.container.setAttribute('data-problems', String(problems.length));

    problems.forEach(function (problem) {
      var item = document.createElement('li');
      var element = problem.element_id ? registry.get(problem.element_id) : null;
      if (element) {
        canvas.addMarker(element, 'lint-error');
        self.lintMarked.push(element.id);
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'problem-link';
        button.setAttribute('data-element-id', element.id);
        button.textContent = describe(problem);
        button.addEventListener('click', function () { self.reveal(element.id); });
        item.appendChild(button);
      } else {
        item.textContent = describe(problem);
      }
      self.problemsEl.appendChild(item);
    });
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
        editor.status('The editor could not open the diagram: ' + message);
      });
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
