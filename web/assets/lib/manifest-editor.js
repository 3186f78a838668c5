// The manifest editor: manifest.json as forms, one tab per section, drawn from the manifest's JSON Schema
// (engine/bpmn/manifest_schema.py, put on the page as <script type="application/json" id="manifest-schema">),
// and the raw JSON for experts. Both views edit one document; «Сохранить» saves whichever is shown.
//
// Field-level errors: every control and row carries data-path, the value's JSON path as the server writes it
// (`escalation.steps[0].after`); an error — the schema's, found here as the admin types, or a problem the
// server reported on check or save — is shown under the control of its path, or of the nearest enclosing
// row or section when that value has no control of its own. Tabs count their errors.
//
// DOM for tests: #manifest-views button[data-view="forms"|"raw"][aria-pressed], #manifest-tabs
// [role=tab][data-section], #manifest-raw (textarea), [data-path="…"] controls, .manifest-error[data-for="…"]
// (data-source="schema"|"server"), .manifest-add[data-for="…"], .manifest-remove.

import { formatPath, parsePath, prettyJson, validate } from './json-schema.js';

function node(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name === 'className') {
      element.className = value;
    } else {
      element.setAttribute(name, value === true ? '' : value);
    }
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const SCALARS = new Set(['string', 'integer', 'number', 'boolean']);

/** How a schema is edited: a table of rows, a map of named entries, a record of fields, or one control. */
function shape(schema) {
  if (!schema) {
    return 'json';
  }
  if (schema['x-format'] === 'list' || schema['x-format'] === 'json') {
    return schema['x-format'];
  }
  if (schema.enum) {
    return 'enum';
  }
  if (schema.type === 'object' && isObject(schema.additionalProperties)) {
    return 'map';
  }
  if (schema.type === 'object' && schema.properties) {
    return 'record';
  }
  if (schema.type === 'array') {
    return shape(schema.items) === 'record' ? 'table' : 'list';
  }
  return SCALARS.has(schema.type) ? schema.type : 'json';
}

function isCell(schema) {
  return !['map', 'record', 'table'].includes(shape(schema));
}

function getAt(document, path) {
  let value = document;
  for (const part of path) {
    if (value === null || typeof value !== 'object') {
      return undefined;
    }
    value = value[part];
  }
  return value;
}

/** Set the value at `path`, making the objects on the way; `undefined` removes the key. */
function setAt(document, path, value) {
  let target = document;
  for (const [index, part] of path.slice(0, -1).entries()) {
    if (target[part] === null || typeof target[part] !== 'object') {
      target[part] = typeof path[index + 1] === 'number' ? [] : {};
    }
    target = target[part];
  }
  const last = path[path.length - 1];
  if (value === undefined && !Array.isArray(target)) {
    delete target[last];
  } else {
    target[last] = value;
  }
}

/** A new item for a table: its required fields, empty (the schema then says what to fill in). */
function blank(schema) {
  if (shape(schema) === 'record') {
    const item = {};
    for (const name of schema.required || []) {
      const property = schema.properties[name];
      item[name] = property.type === 'integer' ? 1 : property.type === 'array' ? [] : property.type === 'object' ? {} : '';
    }
    return item;
  }
  if (schema.type === 'array') {
    return [];
  }
  return schema.type === 'object' ? {} : '';
}

/** Where a tab's section lives: the «Основное» tab holds the scalar keys of the top level. */
const MAIN_TAB = 'main';

export function createManifestEditor({ canvas }) {
  const schemaElement = document.getElementById('manifest-schema');
  const schema = JSON.parse(schemaElement ? schemaElement.textContent : '{}');
  const listeners = [];
  let doc = {};
  let text = ''; // the file as loaded or last saved; kept as it is while the forms change nothing
  let edited = false; // the forms changed the document since `text`
  let view = 'forms';
  let section = MAIN_TAB;
  let serverProblems = [];
  let schemaErrors = [];
  const localErrors = new Map(); // path → message, for what a control cannot turn into a value (bad JSON)
  const allColumns = new Set(); // tables whose every column is shown

  const viewsBar = node('div', { id: 'manifest-views', className: 'manifest-views', role: 'group', 'aria-label': 'Вид' });
  const formsButton = node('button', { type: 'button', className: 'btn btn-small', 'data-view': 'forms' }, 'Формы');
  const rawButton = node('button', { type: 'button', className: 'btn btn-small', 'data-view': 'raw' }, 'Исходный JSON');
  viewsBar.append(formsButton, rawButton);
  const tabs = node('div', { id: 'manifest-tabs', className: 'manifest-tabs', role: 'tablist', 'aria-label': 'Разделы манифеста' });
  const panel = node('div', { id: 'manifest-panel', className: 'manifest-panel', role: 'tabpanel', tabindex: '0' });
  const forms = node('div', { className: 'manifest-forms' }, tabs, panel);
  const raw = node('textarea', { id: 'manifest-raw', className: 'manifest-raw', spellcheck: 'false', 'aria-label': 'manifest.json — исходный JSON' });
  const rawError = node('p', { id: 'manifest-raw-error', className: 'manifest-error', role: 'alert', hidden: true });
  const rawBox = node('div', { className: 'manifest-raw-box', hidden: true }, raw, rawError);
  canvas.replaceChildren(node('div', { className: 'manifest-editor' }, viewsBar, forms, rawBox));

  const sections = () => {
    const names = Object.keys(schema.properties || {});
    const main = names.filter((name) => isCell(schema.properties[name]));
    return [[MAIN_TAB, 'Основное', main], ...names.filter((name) => !main.includes(name))
      .map((name) => [name, schema.properties[name].title || name, [name]])];
  };

  function changed() {
    edited = true;
    check();
    listeners.forEach((listener) => listener());
  }

  function currentText() {
    return edited ? prettyJson(doc) : text;
  }

  // --- errors --------------------------------------------------------------------------------------------

  let checkTimer = null;
  function check() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(() => {
      schemaErrors = validate(schema, doc);
      showErrors();
    }, 120);
  }

  function allErrors() {
    const found = [];
    for (const error of schemaErrors) {
      found.push({ path: error.path, message: error.message, source: 'schema' });
    }
    for (const [at, message] of localErrors) {
      found.push({ path: parsePath(at) || [], message, source: 'schema' });
    }
    for (const problem of serverProblems) {
      const path = parsePath(problem.element_id);
      if (path) {
        found.push({ path, message: problem.message, source: 'server' });
      }
    }
    return found;
  }

  /** The element an error at `path` is shown on: the path's own control or row, else its nearest ancestor's. */
  function target(path) {
    for (let length = path.length; length > 0; length -= 1) {
      const found = panel.querySelector(`[data-path="${CSS.escape(formatPath(path.slice(0, length)))}"]`);
      if (found) {
        return found;
      }
    }
    return null;
  }

  function sectionOf(path) {
    const top = path[0];
    return sections().find(([, , names]) => names.includes(top))?.[0] || MAIN_TAB;
  }

  function showErrors() {
    panel.querySelectorAll('.manifest-error, .manifest-row-error').forEach((element) => element.remove());
    panel.querySelectorAll('[aria-invalid]').forEach((element) => {
      element.removeAttribute('aria-invalid');
      element.removeAttribute('aria-describedby');
    });
    panel.querySelectorAll('.manifest-unplaced').forEach((element) => element.remove());
    const counts = new Map();
    const seen = new Set();
    const unplaced = [];
    allErrors().forEach((error, index) => {
      const key = `${formatPath(error.path)}\n${error.message}`;
      if (seen.has(key)) {
        return; // the schema and the server may say the same
      }
      seen.add(key);
      const tab = sectionOf(error.path);
      counts.set(tab, (counts.get(tab) || 0) + 1);
      if (tab !== section) {
        return;
      }
      const element = target(error.path);
      if (element) {
        attach(element, error, `manifest-error-${index}`);
      } else {
        unplaced.push(error); // a key no section has (a misspelt section): said at the top of the tab
      }
    });
    if (unplaced.length) {
      panel.querySelector('h2')?.after(node('div', { className: 'manifest-unplaced' },
        ...unplaced.map((error) => node('div', { className: 'manifest-error', role: 'alert', 'data-for': formatPath(error.path), 'data-source': error.source },
          `${formatPath(error.path)}: ${error.message}`))));
    }
    for (const button of tabs.children) {
      const count = counts.get(button.dataset.section) || 0;
      button.dataset.errors = String(count);
      button.querySelector('.problem-badge')?.remove();
      if (count) {
        button.append(node('span', { className: 'problem-badge', 'aria-label': `ошибок: ${count}` }, String(count)));
      }
    }
  }

  function attach(element, error, id) {
    const message = node('div', { className: 'manifest-error', id, role: 'alert', 'data-for': formatPath(error.path), 'data-source': error.source },
      error.message);
    if (element.tagName === 'TR') {
      const columns = element.children.length;
      element.after(node('tr', { className: 'manifest-row-error' }, node('td', { colspan: String(columns) }, message)));
      element.setAttribute('aria-invalid', 'true');
      return;
    }
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(element.tagName)) {
      element.setAttribute('aria-invalid', 'true');
      element.setAttribute('aria-describedby', id);
      element.after(message);
      return;
    }
    element.prepend(message);
  }

  // --- controls ------------------------------------------------------------------------------------------

  /** Typing into a field drops the server's problems about it: they described the saved file. */
  function edit(path, value) {
    setAt(doc, path, value);
    const at = formatPath(path);
    serverProblems = serverProblems.filter((problem) => problem.element_id !== at);
    changed();
  }

  function control(propertySchema, path, { required = false, label = '' } = {}) {
    const value = getAt(doc, path);
    const at = formatPath(path);
    const common = { 'data-path': at, 'aria-label': label || propertySchema.title || String(path[path.length - 1]) };
    const kind = shape(propertySchema);
    if (kind === 'boolean') {
      const box = node('input', { type: 'checkbox', ...common, checked: value === true });
      box.addEventListener('change', () => {
        const keep = box.checked || propertySchema.default === true || required;
        edit(path, keep ? box.checked : undefined);
      });
      return box;
    }
    if (kind === 'enum') {
      const select = node('select', common);
      const options = propertySchema.enum.map((option) => node('option', { value: JSON.stringify(option) },
        option === '' ? `— ${propertySchema['x-enum-titles']?.[''] || 'не указано'}`
          : `${option} — ${propertySchema['x-enum-titles']?.[option] || ''}`.replace(/ — $/, '')));
      if (value === undefined && !propertySchema.enum.includes('')) {
        options.unshift(node('option', { value: '' }, '—'));
      } else if (value !== undefined && !propertySchema.enum.some((option) => option === value)) {
        options.unshift(node('option', { value: JSON.stringify(value) }, `${JSON.stringify(value)} — неизвестно`));
      }
      select.append(...options);
      select.value = value === undefined ? (propertySchema.enum.includes('') ? '""' : '') : JSON.stringify(value);
      select.addEventListener('change', () => {
        const chosen = select.value === '' || (select.value === '""' && !required) ? undefined : JSON.parse(select.value);
        edit(path, chosen);
      });
      return select;
    }
    if (kind === 'list' || kind === 'json') {
      const shownValue = value === undefined ? '' : kind === 'list' && Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? value.join(', ') : JSON.stringify(value);
      const input = node('input', { type: 'text', ...common, value: shownValue, placeholder: kind === 'list' ? 'через запятую' : 'JSON' });
      input.addEventListener('input', () => {
        localErrors.delete(at);
        const written = input.value.trim();
        if (!written) {
          edit(path, required ? [] : undefined);
        } else if (kind === 'list') {
          edit(path, written.split(',').map((part) => part.trim()).filter(Boolean));
        } else {
          try {
            edit(path, JSON.parse(written));
          } catch {
            localErrors.set(at, 'не JSON: например ["never"] или [false]');
            changed();
          }
        }
      });
      return input;
    }
    const numeric = kind === 'integer' || kind === 'number';
    const shownValue = value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    const input = node('input', { type: numeric ? 'number' : 'text', ...common, value: shownValue, step: numeric ? '1' : undefined,
      min: propertySchema.minimum, max: propertySchema.maximum });
    input.addEventListener('input', () => {
      const written = input.value;
      if (written === '' && !required) {
        edit(path, undefined);
      } else if (numeric) {
        edit(path, written !== '' && Number.isFinite(Number(written)) ? Number(written) : written);
      } else {
        edit(path, written);
      }
    });
    return input;
  }

  /** A schema's description; `names` between backticks are set as code. */
  function help(propertySchema) {
    if (!propertySchema.description) {
      return null;
    }
    const parts = propertySchema.description.split('`').map((part, index) => (index % 2 ? node('code', {}, part) : part));
    return node('p', { className: 'manifest-help' }, ...parts);
  }

  function field(name, propertySchema, path, required) {
    const kind = shape(propertySchema);
    if (!isCell(propertySchema)) {
      return node('fieldset', { className: 'manifest-fieldset' },
        node('legend', {}, propertySchema.title || name), help(propertySchema), editor(propertySchema, path));
    }
    const input = control(propertySchema, path, { required });
    const id = `manifest-field-${formatPath(path).replace(/[^a-zA-Z0-9_-]/g, '-')}`;
    input.id = id;
    input.removeAttribute('aria-label');
    const label = node('label', { for: id }, propertySchema.title || name, required ? node('span', { className: 'manifest-required', title: 'обязательно' }, ' *') : null);
    const wrapper = node('div', { className: `manifest-field manifest-field-${kind}` }, label, input, help(propertySchema));
    return wrapper;
  }

  function record(recordSchema, path, names) {
    const box = node('div', { className: 'manifest-record', 'data-path': formatPath(path) || undefined });
    const required = new Set(recordSchema.required || []);
    for (const name of names || Object.keys(recordSchema.properties)) {
      box.append(field(name, recordSchema.properties[name], [...path, name], required.has(name)));
    }
    return box;
  }

  function rowButtons(onUp, onDown, onRemove, what) {
    const cell = node('td', { className: 'manifest-row-actions' });
    if (onUp) {
      const up = node('button', { type: 'button', className: 'btn btn-small manifest-move', title: 'Выше', 'aria-label': `Выше: ${what}` }, '↑');
      up.addEventListener('click', onUp);
      const down = node('button', { type: 'button', className: 'btn btn-small manifest-move', title: 'Ниже', 'aria-label': `Ниже: ${what}` }, '↓');
      down.addEventListener('click', onDown);
      cell.append(up, down);
    }
    const remove = node('button', { type: 'button', className: 'btn btn-small manifest-remove', title: 'Удалить', 'aria-label': `Удалить: ${what}` }, '×');
    remove.addEventListener('click', onRemove);
    cell.append(remove);
    return cell;
  }

  function heading(propertySchema, name) {
    // The tooltip is the description in words: an example set as code is left to the field's own help.
    const words = (propertySchema.description || '').replace(/\s*`[^`]*`/g, '').replace(/[:;,]\s*$/, '');
    const th = node('th', { scope: 'col', title: words || undefined }, propertySchema.title || name);
    return th;
  }

  /** An array of records: a table, a row per item, a column per field. */
  function table(arraySchema, path) {
    const itemSchema = arraySchema.items;
    const required = new Set(itemSchema.required || []);
    const items = Array.isArray(getAt(doc, path)) ? getAt(doc, path) : [];
    // Rows of many optional fields (a task's panels) show the columns some row uses; «Все поля» shows the rest.
    const every = Object.keys(itemSchema.properties);
    const used = every.filter((name) => required.has(name) || items.some((item) => isObject(item) && name in item));
    const names = allColumns.has(formatPath(path)) || every.length <= 4 ? every : used;
    let more = null;
    if (names.length < every.length) {
      more = node('button', { type: 'button', className: 'btn btn-small manifest-more', 'data-for': formatPath(path),
        title: every.filter((name) => !names.includes(name)).map((name) => itemSchema.properties[name].title || name).join(', ') },
      `Все поля (+${every.length - names.length})`);
      more.addEventListener('click', () => {
        allColumns.add(formatPath(path));
        redraw();
      });
    }
    const body = node('tbody');
    items.forEach((item, index) => {
      const at = [...path, index];
      const row = node('tr', { 'data-path': formatPath(at) });
      for (const name of names) {
        row.append(node('td', {}, control(itemSchema.properties[name], [...at, name],
          { required: required.has(name), label: `${itemSchema.properties[name].title || name}, строка ${index + 1}` })));
      }
      const move = (by) => () => {
        const target = index + by;
        if (target < 0 || target >= items.length) {
          return;
        }
        [items[index], items[target]] = [items[target], items[index]];
        changed();
        redraw();
      };
      row.append(rowButtons(move(-1), move(1), () => {
        items.splice(index, 1);
        changed();
        redraw();
      }, `строка ${index + 1}`));
      body.append(row);
    });
    const add = node('button', { type: 'button', className: 'btn btn-small manifest-add', 'data-for': formatPath(path) }, 'Добавить строку');
    add.addEventListener('click', () => {
      if (!Array.isArray(getAt(doc, path))) {
        setAt(doc, path, []);
      }
      getAt(doc, path).push(blank(itemSchema));
      changed();
      redraw();
      const rows = panel.querySelectorAll(`[data-path="${CSS.escape(formatPath([...path, getAt(doc, path).length - 1]))}"] input, [data-path="${CSS.escape(formatPath([...path, getAt(doc, path).length - 1]))}"] select`);
      rows[0]?.focus();
    });
    const head = node('tr', {}, ...names.map((name) => heading(itemSchema.properties[name], name)), node('th', { className: 'manifest-row-actions' }, node('span', { className: 'visually-hidden' }, 'Действия')));
    return node('div', { className: 'manifest-table-box', 'data-path': formatPath(path) },
      node('table', { className: 'manifest-table' }, node('thead', {}, head), body), node('div', { className: 'manifest-table-actions' }, add, more));
  }

  function addEntry(path, valueSchema, placeholder) {
    const input = node('input', { type: 'text', className: 'manifest-new-key', placeholder, 'aria-label': `Новая запись: ${placeholder}` });
    const add = node('button', { type: 'button', className: 'btn btn-small manifest-add', 'data-for': formatPath(path) }, 'Добавить');
    const submit = () => {
      const key = input.value.trim();
      const map = getAt(doc, path);
      if (!key || (isObject(map) && key in map)) {
        input.focus();
        return;
      }
      if (!isObject(map)) {
        setAt(doc, path, {});
      }
      getAt(doc, path)[key] = blank(valueSchema);
      changed();
      redraw();
    };
    add.addEventListener('click', submit);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        submit();
      }
    });
    return node('div', { className: 'manifest-add-entry' }, input, add);
  }

  /** Rename a map's key where it stands, so the file keeps its order. */
  function renameKey(path, from, to) {
    const map = getAt(doc, path);
    if (!to || to === from || to in map) {
      return false;
    }
    const entries = Object.entries(map).map(([key, value]) => [key === from ? to : key, value]);
    for (const key of Object.keys(map)) {
      delete map[key];
    }
    Object.assign(map, Object.fromEntries(entries));
    return true;
  }

  function keyInput(path, key, title, number) {
    const input = node('input', { type: 'text', className: 'manifest-key', value: key, 'data-key-of': formatPath([...path, key]), 'aria-label': `${title}, запись ${number}` });
    input.addEventListener('change', () => {
      if (renameKey(path, key, input.value.trim())) {
        changed();
        redraw();
      } else {
        input.value = key;
      }
    });
    return input;
  }

  /** An object of named entries (deadlines: task id → rule; indicators: key → record; rules: task → list). */
  function map(mapSchema, path) {
    const valueSchema = mapSchema.additionalProperties;
    const keyTitle = mapSchema['x-key'] || 'ключ';
    const entries = isObject(getAt(doc, path)) ? Object.entries(getAt(doc, path)) : [];
    const remove = (key) => () => {
      delete getAt(doc, path)[key];
      changed();
      redraw();
    };
    if (!isCell(valueSchema) && shape(valueSchema) !== 'record') {
      // A list per key (rules, actions, panels of a task): a group per key with its table.
      const groups = entries.map(([key], index) => node('section', { className: 'manifest-group', 'data-path': formatPath([...path, key]) },
        node('div', { className: 'manifest-group-head' }, keyInput(path, key, keyTitle, index + 1),
          node('table', { className: 'manifest-inline' }, node('tbody', {}, node('tr', {}, rowButtons(null, null, remove(key), `запись ${index + 1}`))))),
        editor(valueSchema, [...path, key])));
      return node('div', { className: 'manifest-map', 'data-path': formatPath(path) }, ...groups, addEntry(path, valueSchema, keyTitle));
    }
    const ofRecords = shape(valueSchema) === 'record';
    const names = ofRecords ? Object.keys(valueSchema.properties) : [];
    const required = new Set(ofRecords ? valueSchema.required || [] : []);
    const head = node('tr', {}, node('th', { scope: 'col' }, keyTitle),
      ...(ofRecords ? names.map((name) => heading(valueSchema.properties[name], name)) : [heading(valueSchema, 'значение')]),
      node('th', { className: 'manifest-row-actions' }, node('span', { className: 'visually-hidden' }, 'Действия')));
    const body = node('tbody');
    for (const [index, [key]] of entries.entries()) {
      const at = [...path, key];
      const number = index + 1;
      const row = node('tr', { 'data-path': formatPath(at) }, node('td', {}, keyInput(path, key, keyTitle, number)));
      if (ofRecords) {
        for (const name of names) {
          row.append(node('td', {}, control(valueSchema.properties[name], [...at, name],
            { required: required.has(name), label: `${valueSchema.properties[name].title || name}, запись ${number}` })));
        }
      } else {
        const cell = control(valueSchema, at, { required: true, label: `${valueSchema.title || 'значение'}, запись ${number}` });
        row.removeAttribute('data-path'); // the value's control carries the entry's path
        row.dataset.entry = formatPath(at);
        row.append(node('td', {}, cell));
      }
      row.append(rowButtons(null, null, remove(key), `запись ${number}`));
      body.append(row);
    }
    return node('div', { className: 'manifest-table-box', 'data-path': formatPath(path) },
      node('table', { className: 'manifest-table' }, node('thead', {}, head), body), addEntry(path, valueSchema, keyTitle));
  }

  function editor(propertySchema, path) {
    switch (shape(propertySchema)) {
      case 'map': return map(propertySchema, path);
      case 'table': return table(propertySchema, path);
      case 'record': return record(propertySchema, path);
      default: return control(propertySchema, path);
    }
  }

  // --- tabs and views -------------------------------------------------------------------------------------

  function drawTabs() {
    tabs.replaceChildren(...sections().map(([name, title]) => {
      const tab = node('button', { type: 'button', role: 'tab', id: `manifest-tab-${name}`, 'data-section': name,
        'aria-selected': String(name === section), 'aria-controls': 'manifest-panel', tabindex: name === section ? '0' : '-1' }, title);
      tab.addEventListener('click', () => choose(name));
      tab.addEventListener('keydown', (event) => {
        const all = [...tabs.children];
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (step) {
          event.preventDefault();
          const next = all[(all.indexOf(tab) + step + all.length) % all.length];
          choose(next.dataset.section);
          next.focus();
        }
      });
      return tab;
    }));
  }

  function redraw() {
    const scroll = panel.scrollTop;
    const [, title, names] = sections().find(([name]) => name === section);
    panel.setAttribute('aria-labelledby', `manifest-tab-${section}`);
    if (section === MAIN_TAB) {
      panel.replaceChildren(node('h2', {}, title), record(schema, [], names));
    } else {
      const name = names[0];
      const sectionSchema = schema.properties[name];
      const present = name in doc;
      panel.replaceChildren(...[node('h2', {}, title, node('code', { className: 'manifest-key-name' }, name)), help(sectionSchema),
        present ? null : node('p', { className: 'muted manifest-absent' }, 'Раздела нет в манифесте; заполните поля, чтобы добавить его.'),
        node('div', { 'data-path': name }, editor(sectionSchema, [name]))].filter(Boolean));
    }
    panel.scrollTop = scroll;
    showErrors();
  }

  function choose(name) {
    section = name;
    for (const tab of tabs.children) {
      const selected = tab.dataset.section === name;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
    panel.scrollTop = 0;
    redraw();
  }

  function setView(next) {
    if (next === view) {
      return true;
    }
    if (next === 'raw') {
      raw.value = currentText();
    } else {
      let parsed;
      try {
        parsed = JSON.parse(raw.value);
      } catch (error) {
        rawError.textContent = `Это не JSON, формы не открыть: ${error.message}`;
        rawError.hidden = false;
        return false;
      }
      if (!isObject(parsed)) {
        rawError.textContent = 'manifest.json должен быть объектом JSON: { … }';
        rawError.hidden = false;
        return false;
      }
      if (raw.value !== currentText()) {
        doc = parsed;
        text = raw.value; // what the expert wrote is saved as written, until the forms change it
        edited = false;
      }
      rawError.hidden = true;
      localErrors.clear();
      schemaErrors = validate(schema, doc);
    }
    view = next;
    forms.hidden = next !== 'forms';
    rawBox.hidden = next !== 'raw';
    formsButton.setAttribute('aria-pressed', String(next === 'forms'));
    rawButton.setAttribute('aria-pressed', String(next === 'raw'));
    if (next === 'forms') {
      redraw();
    }
    return true;
  }

  formsButton.addEventListener('click', () => setView('forms'));
  rawButton.addEventListener('click', () => setView('raw'));
  raw.addEventListener('input', () => {
    rawError.hidden = true;
    listeners.forEach((listener) => listener());
  });

  return {
    modeler: { schema, document: () => doc },
    async load(loaded) {
      text = loaded;
      edited = false;
      drawTabs();
      try {
        const parsed = JSON.parse(loaded);
        if (!isObject(parsed)) {
          throw new Error('не объект');
        }
        doc = parsed;
        raw.value = loaded;
        view = 'raw';
        setView('forms');
      } catch {
        view = 'forms';
        setView('raw'); // a file that is not JSON opens as text, where it can be put right
        rawError.textContent = 'Файл не читается как JSON: исправьте его здесь; ошибки проверки — в списке справа.';
        rawError.hidden = false;
      }
      return [];
    },
    async save() {
      return view === 'raw' ? raw.value : currentText();
    },
    saved() {
      if (view === 'forms') {
        text = currentText(); // the forms' document is now the file; the raw view shows it as saved
        edited = false;
      }
    },
    onChange(listener) {
      listeners.push(listener);
    },
    has(elementId) {
      const path = parsePath(elementId);
      return Boolean(path && path.length && schema.properties && (path[0] in schema.properties || path[0] in doc));
    },
    reveal(elementId) {
      const path = parsePath(elementId);
      if (!path || !setView('forms')) {
        return;
      }
      choose(sectionOf(path));
      const element = target(path);
      if (element) {
        element.scrollIntoView({ block: 'center' });
        (element.matches('input, select, textarea') ? element : element.querySelector('input, select, textarea'))?.focus();
      }
    },
    showProblems(problems) {
      serverProblems = problems.filter((problem) => problem.element_id);
      if (view === 'forms') {
        showErrors();
      }
    },
    resized() {},
    fit() {},
  };
}
