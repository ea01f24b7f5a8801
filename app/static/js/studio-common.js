/*
 * What the studio's editors (js/modeler.js, js/dmn-editor.js) share: their words in the page's language,
 * the problem list, and saving with the revision of the file the editor opened so two analysts cannot
 * overwrite each other silently, while editors of different files save without getting in each other's
 * way (window.PortalStudio).
 *
 * The editor's container may carry
 *   data-messages='{"saved": "Đã lưu", "problems": "{n} problem(s) found", ...}'  (English by default)
 *   data-revision="7"        the working copy's revision the page was made from (the file's
 *                            X-Draft-Revision header, when present, wins)
 *   data-file-revision="…"   the revision of the edited file the page was made from (the file's
 *                            X-Draft-File-Revision header, when present, wins); a save sends it back and
 *                            is refused (HTTP 409) only when that file changed since
 *   data-problems-url="..."  where the working copy's current problems are read when the editor opens
 *   data-file-name="..."     the name a "download your version" link saves under
 * and a child [data-modeler-conflict] where a refused save (HTTP 409) explains itself and offers to reload.
 */
(function () {
  'use strict';

  var ENGLISH = {
    saving: 'Saving\u2026',
    saved: 'Saved',
    unsaved: 'Unsaved changes',
    problems: '{n} problem(s) found',
    current: 'The working copy has {n} problem(s)',
    clean: 'No problems in the working copy',
    notSaved: 'Not saved: {reason}',
    conflict: 'Someone saved the model since you opened it.',
    reload: 'Reload the newest version (your changes here are lost)',
    download: 'Download your version',
    openFailed: 'The editor could not open the file: {reason}',
    templatesInvalid: '{n} element templates are invalid',
    problemsLabel: 'Problems',
    diagram: 'Decision diagram'
  };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute('content') : '';
  }

  /** Return the child matching [attribute], or create it with tag (and init) and append it. */
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

  /** A translate function for the container: t('problems', {n: 2}). */
  function messages(container) {
    var own = {};
    try {
      own = JSON.parse(container.getAttribute('data-messages') || '{}') || {};
    } catch (error) {
      own = {};
    }
    return function (key, values) {
      var text = own[key] || ENGLISH[key] || key;
      Object.keys(values || {}).forEach(function (name) {
        text = text.split('{' + name + '}').join(String(values[name]));
      });
      return text;
    };
  }

  function problemsOf(body) {
    if (Array.isArray(body)) {
      return body;
    }
    return (body && Array.isArray(body.problems)) ? body.problems : [];
  }

  /** "Name (id) — file:line: message"; name falls back to the one the editor knows for the id. */
  function describe(problem, knownName) {
    var parts = [];
    var name = problem.element_name || knownName;
    if (problem.element_id) {
      parts.push(name && name !== problem.element_id ? name + ' (' + problem.element_id + ')' : problem.element_id);
    } else if (name) {
      parts.push(name);
    }
    if (problem.file) {
      parts.push(problem.file + (problem.line ? ':' + problem.line : ''));
    }
    return (parts.length ? parts.join(' \u2014 ') + ': ' : '') + (problem.message || 'problem');
  }

  /**
   * Fill the list with the problems; those whose element the editor can show become buttons calling
   * reveal(id). nameOf(id) gives the editor's own name for an element (or nothing), canReveal(id) whether
   * it can show it.
   */
  function listProblems(list, problems, options) {
    list.textContent = '';
    problems.forEach(function (problem) {
      var item = document.createElement('li');
      var id = problem.element_id;
      var text = describe(problem, id && options.nameOf ? options.nameOf(id) : null);
      if (problem.file) {
        item.setAttribute('data-file', problem.file);
      }
      if (id) {
        item.setAttribute('data-element-id', id);
      }
      if (id && options.canReveal(problem)) {
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'problem-link';
        button.setAttribute('data-element-id', id);
        button.textContent = text;
        button.addEventListener('click', function () { options.reveal(id); });
        item.appendChild(button);
      } else {
        item.textContent = text;
      }
      list.appendChild(item);
    });
  }

  async function fetchOk(url, accept) {
    var response = await fetch(url, { credentials: 'same-origin', headers: { Accept: accept } });
    if (!response.ok) {
      throw new Error('Could not load ' + url + ' (HTTP ' + response.status + ')');
    }
    return response;
  }

  /** The revision the editor works on: the file's X-Draft-Revision header, else data-revision. */
  function revisionOf(container, response) {
    var header = response && response.headers.get('X-Draft-Revision');
    var value = header || container.getAttribute('data-revision');
    return value && /^\d+$/.test(value) ? parseInt(value, 10) : null;
  }

  /** The revision of the edited file: the file's X-Draft-File-Revision header, else data-file-revision. */
  function fileRevisionOf(container, response) {
    var header = response && response.headers.get('X-Draft-File-Revision');
    return header || container.getAttribute('data-file-revision') || null;
  }

  /** The working copy's problems now (an empty list when the container names no URL). */
  async function currentProblems(container) {
    var url = container.getAttribute('data-problems-url');
    if (!url) {
      return null;
    }
    var response = await fetchOk(url, 'application/json');
    return problemsOf(await response.json());
  }

  /**
   * POST {xml, revision, file_revision} to the container's data-save-url. Returns
   * {ok, conflict, status, body, problems}.
   */
  async function postSave(container, xml, revision, fileRevision) {
    var payload = { xml: xml };
    if (revision !== null && revision !== undefined) {
      payload.revision = revision;
    }
    if (fileRevision) {
      payload.file_revision = fileRevision;
    }
    var response = await fetch(container.getAttribute('data-save-url'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrfToken() },
      body: JSON.stringify(payload)
    });
    var body = null;
    if ((response.headers.get('Content-Type') || '').indexOf('json') !== -1) {
      body = await response.json();
    }
    return {
      ok: response.ok,
      conflict: response.status === 409,
      status: response.status,
      body: body,
      problems: problemsOf(body)
    };
  }

  /**
   * Explain a refused save in the container's [data-modeler-conflict]: what happened, a link that
   * downloads the analyst's own version (text), and a button that reloads the newest saved one.
   */
  function showConflict(container, t, text) {
    var box = part(container, 'data-modeler-conflict', 'div');
    box.setAttribute('role', 'alert');
    box.textContent = '';
    var message = document.createElement('p');
    message.textContent = t('conflict');
    box.appendChild(message);
    var actions = document.createElement('p');
    if (text) {
      var download = document.createElement('a');
      download.href = URL.createObjectURL(new Blob([text], { type: 'application/xml' }));
      download.download = container.getAttribute('data-file-name') || 'model.xml';
      download.setAttribute('data-conflict-download', '');
      download.textContent = t('download');
      actions.appendChild(download);
      actions.appendChild(document.createTextNode(' '));
    }
    var reload = document.createElement('button');
    reload.type = 'button';
    reload.setAttribute('data-conflict-reload', '');
    reload.textContent = t('reload');
    reload.addEventListener('click', function () {
      container.removeAttribute('data-dirty'); // the analyst chose to drop the changes: no second warning
      window.location.reload();
    });
    actions.appendChild(reload);
    box.appendChild(actions);
    box.hidden = false;
    container.setAttribute('data-conflict', 'true');
  }

  function clearConflict(container) {
    var box = container.querySelector('[data-modeler-conflict]');
    if (box) {
      box.hidden = true;
      box.textContent = '';
    }
    container.removeAttribute('data-conflict');
  }

  /**
   * Save the editor's model with the revision it opened, and show the outcome. The editor brings
   * container, t, saveButton, revision and fileRevision (updated after a save), status(text) and
   * showProblems(problems);
   * xmlOf() is the editor's own way to get its XML (a promise). A refused save (HTTP 409) shows the
   * conflict box; a save the server took clears the dirty flag unless it found problems.
   */
  async function saveWithRevision(editor, xmlOf) {
    var container = editor.container;
    var t = editor.t;
    editor.saveButton.disabled = true;
    container.setAttribute('aria-busy', 'true');
    container.removeAttribute('data-saved');
    editor.status(t('saving'));
    try {
      var xml = await xmlOf();
      var answer = await postSave(container, xml, editor.revision, editor.fileRevision);
      if (answer.conflict) {
        showConflict(container, t, xml);
        throw new Error((answer.body && (answer.body.message || answer.body.reason)) || t('conflict'));
      }
      clearConflict(container);
      if (!answer.ok && !answer.problems.length) {
        throw new Error((answer.body && (answer.body.message || answer.body.error)) || 'HTTP ' + answer.status);
      }
      if (answer.body && typeof answer.body.revision === 'number') {
        editor.revision = answer.body.revision;
      }
      if (answer.body && typeof answer.body.file_revision === 'string') {
        editor.fileRevision = answer.body.file_revision;
      }
      editor.showProblems(answer.problems);
      if (answer.ok && !answer.problems.length) {
        container.removeAttribute('data-dirty');
      }
      editor.status(answer.problems.length ? t('problems', { n: answer.problems.length }) : t('saved'));
      container.setAttribute('data-saved', 'true');
    } catch (error) {
      editor.status(t('notSaved', { reason: (error && error.message) || error }));
      container.setAttribute('data-saved', 'false');
    } finally {
      editor.saveButton.disabled = false;
      container.removeAttribute('aria-busy');
    }
  }

  /**
   * Show the working copy's problems as an editor opens, before any save: editor.showProblems(problems)
   * and, unless keepStatus (the editor has something more pressing to say), their count in
   * editor.status(). A failed look-up is only reported: the editor still works, and a save lists them.
   */
  async function showCurrentProblems(editor, keepStatus) {
    var problems = null;
    try {
      problems = await currentProblems(editor.container);
    } catch (error) {
      editor.status((error && error.message) || String(error));
      return;
    }
    if (problems) {
      editor.showProblems(problems);
      if (!keepStatus) {
        editor.status(problems.length ? editor.t('current', { n: problems.length }) : editor.t('clean'));
      }
    }
  }

  /** The element id the address points at (…/editor#element_id), or null. */
  function wantedElement() {
    var hash = window.location.hash;
    if (!hash || hash.length < 2) {
      return null;
    }
    try {
      return decodeURIComponent(hash.slice(1));
    } catch (error) {
      return null;
    }
  }

  window.PortalStudio = {
    csrfToken: csrfToken,
    part: part,
    messages: messages,
    problemsOf: problemsOf,
    describe: describe,
    listProblems: listProblems,
    fetchOk: fetchOk,
    revisionOf: revisionOf,
    fileRevisionOf: fileRevisionOf,
    currentProblems: currentProblems,
    postSave: postSave,
    showConflict: showConflict,
    clearConflict: clearConflict,
    saveWithRevision: saveWithRevision,
    showCurrentProblems: showCurrentProblems,
    wantedElement: wantedElement
  };
})();
