// Server-side validation errors shown inside a form-js 1.x form.
//
// The server (engine/forms.py) keys its errors by data path: `visit_findings`, `school.inn` (group
// paths and dotted keys), `measures[0].title` (an item of a dynamic list), `measures` / `measures[0]`
// (a whole list or list item) and `_schema` (the data as a whole).
//
// form-js keeps its own validation errors in the form state, `state.errors`, keyed by component id
// and then by the indexes of the repeating (dynamic list) ancestors, outer first:
// `errors[fieldId] = [messages]` or `errors[fieldId][i][j] = [messages]` (see Form#validate and
// FormField: `get(errors, [field.id, ...Object.values(indexes)])`).  A server error is mapped to
// such a path and merged into the state, where form-js renders it like its own messages.
//
// form-js rewrites a field's errors whenever it validates it (on import for fields with a value, on
// blur, on submit), so the server messages are re-added after every state change until the user
// edits that field.  Errors that cannot be mapped, or whose field is not rendered (e.g. hidden by a
// condition), are listed in a general box above the form, with the field's label.

const INDEX = Symbol('index');

/** Form-js DOM id prefix of a field instance (form-js `prefixId`). */
function prefixId(id, formId, indexes) {
  let result = 'fjs-form';
  if (formId) {
    result += `-${formId}`;
  }
  result += `-${id}`;
  for (const index of indexes || []) {
    result += `_${index}`;
  }
  return result;
}

/** `measures[0].title` → ['measures', 0, 'title']; null if it is not a data path. */
export function parseKey(key) {
  if (typeof key !== 'string' || !key) {
    return null;
  }
  const tokens = [];
  for (const part of key.split('.')) {
    const match = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      return null;
    }
    tokens.push(match[1]);
    for (const index of match[2].matchAll(/\[(\d+)\]/g)) {
      tokens.push(Number(index[1]));
    }
  }
  return tokens;
}

/** Accept {key: [msg]}, {key: msg} and nested {list: {"0": {key: [msg]}}}; return [[key, [msg]]]. */
export function flattenErrors(raw, prefix = '') {
  const out = [];
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return out;
  }
  for (const [name, value] of Object.entries(raw)) {
    const key = !prefix ? name : /^\d+$/.test(name) ? `${prefix}[${name}]` : `${prefix}.${name}`;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      out.push(...flattenErrors(value, key));
    } else {
      const messages = (Array.isArray(value) ? value : [value])
        .filter((message) => message !== null && message !== undefined && message !== '')
        .map(String);
      if (messages.length) {
        out.push([key, messages]);
      }
    }
  }
  return out;
}

function fieldLabel(field) {
  const label = field.label || field.dateLabel || field.timeLabel || field.key || field.path || field.id;
  return String(label).trim();
}

/** Every data-bound component of the imported schema with its data path template. */
function buildIndex(form) {
  const formFields = form.get('formFields');
  const { schema } = form._getState();
  const entries = [];

  function walk(components, prefix, repeaters) {
    for (const component of components || []) {
      const definition = formFields.get(component.type);
      const config = (definition && definition.config) || {};
      if (config.keyed && component.key) {
        entries.push({ kind: 'field', component, segments: [...prefix, ...component.key.split('.')], repeaters });
      }
      if (!Array.isArray(component.components)) {
        continue;
      }
      if (config.repeatable && component.isRepeating && component.path) {
        const segments = [...prefix, ...component.path.split('.')];
        entries.push({ kind: 'list', component, segments, repeaters });
        walk(component.components, [...segments, INDEX], [...repeaters, component]);
      } else if (config.pathed && component.path) {
        const segments = [...prefix, ...component.path.split('.')];
        entries.push({ kind: 'group', component, segments, repeaters });
        walk(component.components, segments, repeaters);
      } else {
        walk(component.components, prefix, repeaters);
      }
    }
  }

  walk(schema && schema.components, [], []);
  return entries;
}

/** Indexes of `tokens` at the INDEX places of `segments`, or null if they do not match. */
function match(segments, tokens) {
  if (segments.length !== tokens.length) {
    return null;
  }
  const indexes = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const token = tokens[i];
    if (segment === INDEX) {
      if (typeof token !== 'number') {
        return null;
      }
      indexes.push(token);
    } else if (segment !== token) {
      return null;
    }
  }
  return indexes;
}

/** "Мероприятия, пункт 2 › Мероприятие" for a field inside dynamic lists. */
function describe(entry, indexes) {
  const parts = entry.repeaters.map((list, i) => `${fieldLabel(list)}, пункт ${indexes[i] + 1}`);
  parts.push(fieldLabel(entry.component));
  return parts.join(' › ');
}

function getPath(object, path) {
  let current = object;
  for (const key of path) {
    if (current === null || current === undefined) {
      return undefined;
    }
    current = current[key];
  }
  return current;
}

function setPath(object, path, value) {
  let current = object;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      current[key] = value;
      return;
    }
    if (current[key] === null || typeof current[key] !== 'object') {
      current[key] = typeof path[i + 1] === 'number' ? [] : {};
    }
    current = current[key];
  });
}

function sameIndexes(a, b) {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

export class ServerErrors {
  /**
   * @param {import('@bpmn-io/form-js-viewer').Form} form  an imported form
   * @param {object} raw  the server's errors ({"key": ["message"]})
   */
  constructor(form, raw) {
    this._form = form;
    /** @type {{ entry: object, fieldId: string, indexes: number[], messages: string[] }[]} */
    this._active = [];
    /** @type {{ label: string|null, messages: string[] }[]} */
    this._general = [];

    const index = buildIndex(form);
    for (const [key, messages] of flattenErrors(raw)) {
      this._add(index, key, messages);
    }

    // Lower priority than the renderer (1000): it must see our merged state last.
    form.on('changed', 500, () => this._ensure());
    form.on('field.updated', 1500, (event) => this._onFieldUpdated(event));
    this._ensure();
  }

  get count() {
    return this._active.length + this._general.length;
  }

  _add(index, key, messages) {
    const tokens = key === '_schema' ? null : parseKey(key);
    if (tokens) {
      for (const entry of index) {
        if (entry.kind === 'field') {
          const indexes = match(entry.segments, tokens);
          if (indexes) {
            this._active.push({ entry, fieldId: entry.component.id, indexes, messages });
            return;
          }
        } else {
          // A whole list, a list item or a group object: shown in the general box.
          let indexes = match(entry.segments, tokens);
          let item = null;
          if (!indexes && entry.kind === 'list') {
            indexes = match([...entry.segments, INDEX], tokens);
            item = indexes ? indexes.pop() : null;
          }
          if (indexes) {
            let label = describe(entry, indexes);
            if (item !== null) {
              label += `, пункт ${item + 1}`;
            }
            this._general.push({ label, messages });
            return;
          }
        }
      }
    }
    this._general.push({ label: key === '_schema' ? null : key, messages });
  }

  /** Merge the active server messages into form-js's errors state (no-op when all are there). */
  _ensure() {
    const state = this._form._getState();
    let errors = state.errors || {};
    let changed = false;
    for (const error of this._active) {
      const path = [error.fieldId, ...error.indexes];
      const current = getPath(errors, path);
      const list = Array.isArray(current) ? current : [];
      const missing = error.messages.filter((message) => !list.includes(message));
      if (!missing.length) {
        continue;
      }
      if (!changed) {
        errors = JSON.parse(JSON.stringify(errors));
        changed = true;
      }
      setPath(errors, path, [...list, ...missing]);
    }
    if (changed) {
      this._form._setState({ errors });
    }
  }

  /** The user changed a field: its server message is out of date (list items may have moved). */
  _onFieldUpdated(event) {
    const instance = event.fieldInstance || {};
    const id = instance.id || (event.field && event.field.id);
    const indexes = Object.values(instance.indexes || event.indexes || {});
    const stale = (error) =>
      error.entry.repeaters.some((list) => list.id === id) ||
      (error.fieldId === id && sameIndexes(error.indexes.slice(0, indexes.length), indexes));
    const dropped = this._active.filter(stale);
    if (!dropped.length) {
      return;
    }
    this._active = this._active.filter((error) => !stale(error));
    // Form#_update fires this event before it stores its errors object, which is the state's own:
    // take our messages out of it in place, so that they do not linger (e.g. on a moved list item).
    const { errors } = this._form._getState();
    for (const error of dropped) {
      const path = [error.fieldId, ...error.indexes];
      const current = getPath(errors, path);
      if (Array.isArray(current)) {
        const rest = current.filter((message) => !error.messages.includes(message));
        setPath(errors, path, rest.length ? rest : undefined);
      }
    }
  }

  /**
   * Server messages that are not visible in the rendered form (no such field, hidden field, list
   * item not rendered) plus the unmapped ones: [{label, messages}].  Call once the form is rendered.
   */
  unshown() {
    const formId = this._form._id;
    const out = [...this._general];
    for (const error of this._active) {
      const box =
        document.getElementById(`${prefixId(error.fieldId, formId, error.indexes)}-error-message`) ||
        document.getElementById(`${prefixId(error.fieldId, formId)}-error-message`);
      const text = box ? box.textContent : '';
      const missing = error.messages.filter((message) => !text.includes(message));
      if (missing.length) {
        out.push({ label: describe(error.entry, error.indexes), messages: missing });
      }
    }
    return out;
  }
}
