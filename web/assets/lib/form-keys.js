// Keys of form fields: proposed from the field's label (Russian transliterated to latin snake_case), never
// one another field already has; and the keys other parts of the template refer to (manifest rules,
// indicators, the measures list — the references the server's validator checks), to warn before one of
// them is renamed or removed.

const LATIN = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'e', ё: 'e', ж: 'zh', з: 'z', и: 'i', й: 'y', к: 'k', л: 'l', м: 'm',
  н: 'n', о: 'o', п: 'p', р: 'r', с: 's', т: 't', у: 'u', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch',
  ъ: '', ы: 'y', ь: '', э: 'e', ю: 'yu', я: 'ya',
};
const MAX_LENGTH = 40;

export function transliterate(text) {
  return Array.from(String(text).toLowerCase(), (char) => (char in LATIN ? LATIN[char] : char)).join('');
}

/** «Комментарий куратора» → `kommentariy_kuratora`; '' when the label has nothing to build a key from. */
export function keyFromLabel(label) {
  let key = transliterate(label).replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (key.length > MAX_LENGTH) {
    const cut = key.slice(0, MAX_LENGTH);
    key = cut.includes('_') ? cut.slice(0, cut.lastIndexOf('_')) : cut;
  }
  if (/^[0-9]/.test(key)) {
    key = `field_${key}`;
  }
  return key;
}

/** The key for `label` that no key in `taken` (a Set) is: `name`, else `name_2`, `name_3`… */
export function proposeKey(label, taken) {
  const base = keyFromLabel(label);
  if (!base) {
    return '';
  }
  let key = base;
  for (let n = 2; taken.has(key); n += 1) {
    key = `${base}_${n}`;
  }
  return key;
}

/** Every key (and dotted path of a group) in a form-js schema, nested components included. */
export function schemaKeys(schema) {
  const keys = new Set();
  const walk = (component, prefix) => {
    for (const child of (component && component.components) || []) {
      const path = child.path ? `${prefix}${child.path}.` : prefix;
      if (child.key) {
        keys.add(`${prefix}${child.key}`);
      }
      walk(child, path);
    }
  };
  walk(schema, '');
  return keys;
}

/**
 * The references that saving `schema` would break: of `references` ([{key, by}] for this form), those whose
 * key the schema loaded with had and the schema to save has not (renamed or removed).
 */
export function brokenReferences(references, loadedKeys, schema) {
  const now = schemaKeys(schema);
  return (references || []).filter((ref) => loadedKeys.has(ref.key) && !now.has(ref.key));
}
