// The template editors: one page per file of a template draft (BPMN, DMN or form, built on the
// bpmn.io modelers; manifest.json, as forms drawn from its JSON Schema — lib/manifest-editor.js). Contract with the page (web/templates_admin.py):
//
//   <meta name="csrf-token" content="…">    or any <input type="hidden" name="csrf_token"> on the page
//   <div id="template-editor" data-kind="bpmn|dmn|form|manifest" data-path="roadmap-500.bpmn"
//        data-file-url="…"       GET → file text; PUT {"content": text} → {saved, valid, problems} | 422 {saved: false, problems}
//        data-problems-url="…"   GET → {valid, problems}  (problems of the whole draft)
//        data-context-url="…"    GET → {roles, stages: [{key, title}], forms, calendar}
//        data-draft-url="…"></div>   the draft's page, linked from problems of other files
//
// A problem is {path, line, element_id, message}. Problems of this file (and of manifest.json, which
// names tasks by id) whose element is on the diagram get a red badge on it (`.djs-overlay
// .problem-badge`, marker class `has-problem`); every problem is listed in `#editor-problems`, and
// clicking its element id selects and shows the element. The CSRF token is read from
// <meta name="csrf-token"> or else from any hidden input named csrf_token on the page.
//
// DOM for tests: #editor-save, #editor-check, #editor-status[data-state], #editor-canvas,
// #editor-properties (bpmn, form), #editor-problems li[data-element-id].problem-here|.problem-elsewhere,
// #editor-toggle-properties, #editor-toggle-problems, #editor-fullscreen (aria-pressed).
//
// The editor fills the window below the page's heading; the side panels (properties, problems) fold away
// with their buttons, and «Во весь экран» gives the editor the whole window (Esc leaves).
// When loaded: #template-editor[data-ready="1"], an `editor:ready` event, `element.templateEditor`.

import { localizeEditor } from './lib/localize-editor.js';
import { samePath } from './lib/problems.js';

// Each page loads only its own editor: esbuild splits these imports into chunks (web/build.mjs).
const KINDS = {
  bpmn: () => import('./lib/bpmn-editor.js').then((module) => module.createBpmnEditor),
  dmn: () => import('./lib/dmn-editor.js').then((module) => module.createDmnEditor),
  form: () => import('./lib/form-editor.js').then((module) => module.createFormEditor),
  manifest: () => import('./lib/manifest-editor.js').then((module) => module.createManifestEditor),
};

function node(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'className') {
      element.className = value;
    } else {
      element.setAttribute(name, value);
    }
  }
  element.append(...children);
  return element;
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    return meta.getAttribute('content') || '';
  }
  const input = document.querySelector('input[name="csrf_token"]');
  return input ? input.value : '';
}

async function getJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) {
    throw new Error(`GET ${url}: ${response.status}`);
  }
  return response.json();
}

function toggle(id, text, pressed) {
  return node('button', { type: 'button', id, className: 'btn btn-small editor-toggle', 'aria-pressed': String(pressed) }, text);
}

function layout(root, kind) {
  const save = node('button', { type: 'button', id: 'editor-save', className: 'btn btn-primary', title: 'Ctrl+S' }, 'Сохранить');
  const check = node('button', { type: 'button', id: 'editor-check', className: 'btn' }, 'Проверить');
  const status = node('span', { id: 'editor-status', className: 'editor-status', role: 'status', 'aria-live': 'polite', 'data-state': 'loading' }, 'Загрузка…');
  const tabs = node('div', { className: 'dmn-view-tabs', id: 'editor-views', role: 'tablist' });
  const canvas = node('div', { id: 'editor-canvas', className: `editor-canvas editor-canvas-${kind}` });
  const properties = node('div', { id: 'editor-properties', className: 'editor-properties', 'aria-label': 'Свойства' });
  const list = node('ul', { className: 'editor-problem-list' });
  const problems = node('section', { id: 'editor-problems', className: 'editor-problems', 'aria-label': 'Ошибки шаблона' },
    node('h2', {}, 'Ошибки'), list);
  const side = node('aside', { className: 'editor-side' });
  const hasProperties = kind === 'bpmn' || kind === 'form';
  if (hasProperties) {
    side.append(properties);
  }
  side.append(problems);
  const toggles = node('div', { className: 'editor-toggles' });
  const showProperties = toggle('editor-toggle-properties', 'Свойства', true);
  const showProblems = toggle('editor-toggle-problems', 'Ошибки', true);
  const fullscreen = toggle('editor-fullscreen', 'Во весь экран', false);
  fullscreen.title = 'Esc — выйти';
  toggles.append(...(hasProperties ? [showProperties] : []), showProblems, fullscreen);
  const toolbar = node('div', { className: 'editor-toolbar' }, save, check, status, toggles);
  const body = node('div', { className: `editor-body editor-body-${kind}` }, canvas, side);
  root.replaceChildren(toolbar, ...(kind === 'dmn' ? [tabs] : []), body);
  root.classList.add('template-editor', `template-editor-${kind}`);
  return { save, check, status, tabs, canvas, properties, list, problems, showProperties, showProblems, fullscreen };
}

/** The editor takes the window's height below where it starts (the page's heading above it). */
function fitHeight(root) {
  const top = root.getBoundingClientRect().top + window.scrollY;
  root.style.setProperty('--editor-top', `${Math.round(top)}px`);
}

class EditorPage {
  constructor(root) {
    this.root = root;
    this.kind = root.dataset.kind;
    this.path = root.dataset.path || '';
    this.dom = layout(root, this.kind);
    this.changes = 0; // edits since the last successful save
    this.loading = true;
  }

  /** Fold or unfold a side panel; with both folded the diagram takes the whole width. */
  togglePanel(name, show) {
    const button = name === 'properties' ? this.dom.showProperties : this.dom.showProblems;
    const visible = show === undefined ? button.getAttribute('aria-pressed') !== 'true' : show;
    button.setAttribute('aria-pressed', String(visible));
    this.root.classList.toggle(`hide-${name}`, !visible);
    const sideEmpty = this.root.classList.contains('hide-problems')
      && (this.root.classList.contains('hide-properties') || !this.root.contains(this.dom.properties));
    this.root.classList.toggle('hide-side', sideEmpty);
    this.editor.resized();
  }

  setFullscreen(on) {
    this.root.classList.toggle('editor-fullscreen', on);
    document.documentElement.classList.toggle('editor-fullscreen-open', on);
    this.dom.fullscreen.setAttribute('aria-pressed', String(on));
    this.dom.fullscreen.textContent = on ? 'Выйти из полноэкранного режима' : 'Во весь экран';
    this.editor.resized();
  }

  setStatus(state, text) {
    this.dom.status.dataset.state = state;
    this.dom.status.textContent = text;
  }

  async start() {
    const context = await getJson(this.root.dataset.contextUrl).catch((error) => {
      console.error(error);
      return {};
    });
    fitHeight(this.root);
    localizeEditor(this.dom.canvas, this.dom.properties);
    this.editor = (await KINDS[this.kind]())({ ...this.dom, context, path: this.path });
    const response = await fetch(this.root.dataset.fileUrl, { credentials: 'same-origin' });
    if (!response.ok) {
      throw new Error(`GET ${this.root.dataset.fileUrl}: ${response.status}`);
    }
    await this.editor.load(await response.text());
    this.editor.onChange(() => this.changed());
    this.dom.save.addEventListener('click', () => this.save());
    this.dom.check.addEventListener('click', () => this.check());
    this.dom.showProperties.addEventListener('click', () => this.togglePanel('properties'));
    this.dom.showProblems.addEventListener('click', () => this.togglePanel('problems'));
    this.dom.fullscreen.addEventListener('click', () => this.setFullscreen(!this.root.classList.contains('editor-fullscreen')));
    window.addEventListener('resize', () => {
      fitHeight(this.root);
      this.editor.resized();
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && this.root.classList.contains('editor-fullscreen')) {
        this.setFullscreen(false);
      }
      if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 's') {
        event.preventDefault();
        this.save();
      }
    });
    window.addEventListener('beforeunload', (event) => {
      if (this.changes) {
        event.preventDefault();
        event.returnValue = ''; // the browser shows its own "leave the page?" question
      }
    });
    setTimeout(() => {
      this.loading = false; // editors report their own import as a change
    }, 0);
    this.setStatus('ready', 'Загружено');
  }

  changed() {
    if (this.loading) {
      return;
    }
    this.changes += 1;
    this.setStatus('dirty', 'Есть несохранённые изменения');
  }

  async save() {
    if (this.saving) {
      return;
    }
    this.saving = true;
    this.dom.save.disabled = true;
    try {
      await flushPropertiesInput();
      const warnings = this.editor.beforeSave ? this.editor.beforeSave() : [];
      if (warnings.length && !(await confirmWarnings(warnings))) {
        this.setStatus('dirty', 'Не сохранено: изменения остались в редакторе');
        return;
      }
      this.setStatus('saving', 'Сохранение…');
      const changesBefore = this.changes;
      const content = await this.editor.save();
      const response = await fetch(this.root.dataset.fileUrl, {
        method: 'PUT',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': csrfToken() },
        body: JSON.stringify({ content }),
      });
      const body = await response.json().catch(() => ({}));
      const problems = Array.isArray(body.problems) ? body.problems : [];
      if (response.ok && body.saved) {
        this.changes -= changesBefore;
        if (this.editor.saved) {
          this.editor.saved();
        }
        this.showProblems(problems);
        this.setStatus(problems.length ? 'invalid' : 'saved',
          problems.length ? `Сохранено. Есть ошибки: ${problems.length}` : 'Сохранено');
      } else if (response.status === 422) {
        this.showProblems(problems);
        this.setStatus('rejected', `Не сохранено. Есть ошибки: ${problems.length}`);
      } else if (typeof body.message === 'string' && body.message) {
        this.setStatus('error', `Не сохранено: ${body.message}`); // e.g. the CSRF token expired
      } else {
        throw new Error(`PUT: ${response.status}`);
      }
    } catch (error) {
      console.error(error);
      this.setStatus('error', 'Не удалось сохранить. Проверьте соединение и попробуйте ещё раз.');
    } finally {
      this.saving = false;
      this.dom.save.disabled = false;
    }
  }

  async check() {
    this.setStatus('checking', 'Проверка…');
    try {
      const body = await getJson(this.root.dataset.problemsUrl);
      const problems = Array.isArray(body.problems) ? body.problems : [];
      this.showProblems(problems);
      const unsaved = this.changes ? ' (проверена сохранённая версия)' : '';
      this.setStatus(problems.length ? 'invalid' : 'valid',
        (problems.length ? `Есть ошибки: ${problems.length}` : 'Ошибок нет') + unsaved);
    } catch (error) {
      console.error(error);
      this.setStatus('error', 'Не удалось проверить шаблон.');
    }
  }

  showProblems(problems) {
    const here = problems.filter((problem) => samePath(problem.path, this.path));
    // The manifest names user tasks by id (deadlines, rules, actions): show those on the diagram too.
    const aboutElements = problems.filter((problem) =>
      here.includes(problem) || (samePath(problem.path, 'manifest.json') && this.editor.has(problem.element_id)));
    this.editor.showProblems(aboutElements);
    const items = problems.map((problem) => (here.includes(problem) ? this.itemHere(problem) : this.itemElsewhere(problem)));
    this.dom.list.replaceChildren(...items);
    this.dom.problems.dataset.count = String(problems.length);
    this.dom.showProblems.textContent = problems.length ? `Ошибки: ${problems.length}` : 'Ошибки';
    if (problems.length && this.root.classList.contains('hide-problems')) {
      this.togglePanel('problems', true); // new problems are not hidden behind a folded panel
    }
  }

  itemHere(problem) {
    const onDiagram = this.editor.has(problem.element_id);
    const where = [problem.line ? `строка ${problem.line}` : '', problem.element_id || ''].filter(Boolean).join(', ');
    const item = node('li', { className: `problem-here${onDiagram ? ' problem-on-diagram' : ''}` });
    if (problem.element_id) {
      item.dataset.elementId = problem.element_id;
    }
    if (onDiagram) {
      const button = node('button', { type: 'button', className: 'problem-reveal' }, where);
      button.addEventListener('click', () => this.editor.reveal(problem.element_id));
      item.append(button, ': ');
    } else if (where) {
      item.append(node('span', { className: 'problem-where' }, where), ': ');
    }
    item.append(problem.message);
    return item;
  }

  itemElsewhere(problem) {
    const item = node('li', { className: 'problem-elsewhere' });
    if (problem.element_id) {
      item.dataset.elementId = problem.element_id;
    }
    const where = `${problem.path || 'шаблон'}${problem.line ? `:${problem.line}` : ''}`;
    const draftUrl = this.root.dataset.draftUrl;
    item.append(draftUrl ? node('a', { href: draftUrl, className: 'problem-path' }, where) : node('span', { className: 'problem-path' }, where));
    if (problem.element_id && this.editor.has(problem.element_id)) {
      const button = node('button', { type: 'button', className: 'problem-reveal' }, problem.element_id);
      button.addEventListener('click', () => this.editor.reveal(problem.element_id));
      item.append(' (', button, ')');
    } else if (problem.element_id) {
      item.append(` (${problem.element_id})`);
    }
    item.append(`: ${problem.message}`);
    return item;
  }
}

/** Ask before saving what would break references (a <dialog>); resolves true to save anyway. */
function confirmWarnings(warnings) {
  const dialog = node('dialog', { className: 'confirm-dialog', id: 'editor-save-warning', 'aria-labelledby': 'editor-save-warning-title' });
  const form = node('form', { method: 'dialog' },
    node('h2', { id: 'editor-save-warning-title' }, 'Сохранить с этими изменениями?'),
    node('ul', {}, ...warnings.map((text) => node('li', {}, text))),
    node('p', { className: 'muted' }, 'После сохранения проверка черновика покажет эти ссылки как ошибки, пока их не исправят.'),
    node('div', { className: 'form-actions' },
      node('button', { type: 'submit', value: 'cancel', className: 'btn', autofocus: '' }, 'Не сохранять'),
      node('button', { type: 'submit', value: 'confirm', className: 'btn btn-danger' }, 'Сохранить всё равно')));
  dialog.append(form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    dialog.showModal();
  });
}

// The libraries' own fields (a task's name and id, form-js properties) apply typing after a pause of
// 300 ms; a click on «Сохранить» right after typing waits for it, so what was typed is what is saved.
const INPUT_DEBOUNCE_MS = 400;
let lastInput = 0;
document.addEventListener('input', () => {
  lastInput = Date.now();
}, true);

async function flushPropertiesInput() {
  const wait = INPUT_DEBOUNCE_MS - (Date.now() - lastInput);
  if (wait > 0) {
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

async function mount(root) {
  if (!KINDS[root.dataset.kind]) {
    root.dataset.error = `неизвестный вид редактора: ${root.dataset.kind}`;
    root.textContent = 'Этот файл нельзя редактировать здесь.';
    return;
  }
  const page = new EditorPage(root);
  try {
    await page.start();
  } catch (error) {
    console.error(error);
    root.dataset.error = String((error && error.message) || error);
    page.setStatus('error', 'Не удалось открыть файл в редакторе.');
    return;
  }
  root.templateEditor = page;
  root.dataset.ready = '1';
  root.dispatchEvent(new CustomEvent('editor:ready', { bubbles: true, detail: { editor: page.editor.modeler } }));
}

const root = document.getElementById('template-editor');
if (root) {
  mount(root);
}
