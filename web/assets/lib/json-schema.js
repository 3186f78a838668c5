// JSON paths as the server writes them, a small JSON Schema checker and the manifest's JSON layout.
//
// Paths: engine/json_document.format_path names a value `deadlines.run_questionnaires`, `stages[2].title`,
// `deadlines["a b"]`; formatPath/parsePath here write and read the same text, so a problem from the server
// and an error found here name a field the same way.
//
// The checker covers the keywords engine/bpmn/manifest_schema.py uses (type, enum, const, pattern,
// minLength, minimum, maximum, minItems, required, properties, patternProperties, additionalProperties,
// propertyNames, items, allOf, if/then) and says what is wrong in Russian, with the schema's own
// `x-message` where it has one. It compiles no code (a generic validator such as ajv builds functions
// with `new Function`, which the site's Content-Security-Policy refuses).

const PLAIN_KEY = /^[\p{L}_][\p{L}\p{N}_]*$/u;

export function formatPath(path) {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') {
      text += `[${part}]`;
    } else if (PLAIN_KEY.test(part)) {
      text += text ? `.${part}` : part;
    } else {
      text += `[${JSON.stringify(part)}]`;
    }
  }
  return text;
}

/** The inverse of formatPath; null for text that is not such a path. */
export function parsePath(text) {
  if (typeof text !== 'string' || !text) {
    return null;
  }
  const path = [];
  let rest = text;
  while (rest) {
    let match = /^\.?([\p{L}_][\p{L}\p{N}_]*)/u.exec(rest);
    if (match && (path.length || !rest.startsWith('.'))) {
      path.push(match[1]);
    } else if ((match = /^\[(\d+)\]/.exec(rest))) {
      path.push(Number(match[1]));
    } else if ((match = /^\[("(?:[^"\\]|\\.)*")\]/.exec(rest))) {
      path.push(JSON.parse(match[1]));
    } else {
      return null;
    }
    rest = rest.slice(match[0].length);
  }
  return path;
}

const TYPE_WORDS = {
  object: 'объект', array: 'список', string: 'строка', integer: 'целое число', number: 'число', boolean: 'да или нет',
};

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function typeOk(type, value) {
  switch (type) {
    case 'object': return isObject(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'integer': return Number.isInteger(value);
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'boolean': return typeof value === 'boolean';
    default: return true;
  }
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function shown(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

/** Errors of `value` against `schema`: [{path: [...], message}], the first one per value. */
export function validate(schema, value, path = [], out = []) {
  if (!schema || schema === true) {
    return out;
  }
  const error = (message, at = path) => out.push({ path: at, message });
  if (schema.type && !typeOk(schema.type, value)) {
    error(`ожидается ${TYPE_WORDS[schema.type] || schema.type}`);
    return out;
  }
  if (schema.enum && !schema.enum.some((allowed) => same(allowed, value))) {
    error(`«${shown(value)}»: ${schema['x-message'] || `ожидается одно из: ${schema.enum.join(', ')}`}`);
    return out;
  }
  if ('const' in schema && !same(schema.const, value)) {
    error(`ожидается ${JSON.stringify(schema.const)}`);
    return out;
  }
  if (typeof value === 'string') {
    if (schema.minLength && value.length < schema.minLength) {
      error(schema['x-message'] || 'не может быть пустым');
    } else if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) {
      error(value ? `«${shown(value)}»: ${schema['x-message'] || 'значение не подходит'}` : 'не может быть пустым');
    }
  }
  if (typeof value === 'number') {
    const { minimum: low, maximum: high } = schema;
    if ((low !== undefined && value < low) || (high !== undefined && value > high)) {
      error(low !== undefined && high !== undefined ? `ожидается число от ${low} до ${high}`
        : low !== undefined ? `ожидается число не меньше ${low}` : `ожидается число не больше ${high}`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems && value.length < schema.minItems) {
      error(schema.minItems === 1 ? 'нужен хотя бы один элемент' : `нужно не меньше ${schema.minItems} элементов`);
    }
    if (schema.items) {
      value.forEach((item, index) => validate(schema.items, item, [...path, index], out));
    }
  }
  if (isObject(value)) {
    validateObject(schema, value, path, out);
  }
  for (const part of schema.allOf || []) {
    validate(part, value, path, out);
  }
  if (schema.if && schema.then && validate(schema.if, value).length === 0) {
    validate(schema.then, value, path, out);
  }
  return out;
}

function validateObject(schema, value, path, out) {
  const properties = schema.properties || {};
  for (const name of schema.required || []) {
    if (!(name in value)) {
      const title = properties[name] && properties[name].title;
      out.push({ path: [...path, name], message: `не заполнено${title ? `: ${title}` : ''}` });
    }
  }
  const patterns = Object.entries(schema.patternProperties || {}).map(([pattern, sub]) => [new RegExp(pattern, 'u'), sub]);
  for (const [name, item] of Object.entries(value)) {
    const at = [...path, name];
    if (schema.propertyNames) {
      const before = out.length;
      validate({ type: 'string', ...schema.propertyNames }, name, at, out);
      if (out.length > before) {
        continue;
      }
    }
    if (name in properties) {
      validate(properties[name], item, at, out);
      continue;
    }
    const matching = patterns.filter(([pattern]) => pattern.test(name));
    if (matching.length) {
      matching.forEach(([, sub]) => validate(sub, item, at, out));
    } else if (schema.additionalProperties === false) {
      const known = Object.keys(properties);
      out.push({ path: at, message: schema['x-message-additional']
        ? `«${name}»: ${schema['x-message-additional']}`
        : `параметра «${name}» нет${known.length ? `; есть: ${known.join(', ')}` : ''}` });
    } else if (isObject(schema.additionalProperties)) {
      validate(schema.additionalProperties, item, at, out);
    }
  }
}

function flat(value) {
  if (Array.isArray(value)) {
    return `[${value.map(flat).join(', ')}]`;
  }
  if (isObject(value)) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${flat(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

/** JSON laid out as manifest.json is written by hand: a value that fits on its line stays on one line
 * (a stage, a rule, a deadline), a longer one opens up, two spaces a level; lines up to `width`. */
export function prettyJson(value, width = 110) {
  function layout(item, indent, prefix) {
    const one = flat(item);
    if (!(Array.isArray(item) || isObject(item)) || indent + prefix + one.length <= width) {
      return one;
    }
    const inner = ' '.repeat(indent + 2);
    if (Array.isArray(item)) {
      if (!item.length) {
        return '[]';
      }
      return `[\n${item.map((v) => inner + layout(v, indent + 2, 0)).join(',\n')}\n${' '.repeat(indent)}]`;
    }
    const entries = Object.entries(item);
    if (!entries.length) {
      return '{}';
    }
    return `{\n${entries.map(([k, v]) => {
      const key = `${JSON.stringify(k)}: `;
      return inner + key + layout(v, indent + 2, key.length);
    }).join(',\n')}\n${' '.repeat(indent)}}`;
  }
  return `${layout(value, 0, 0)}\n`;
}
