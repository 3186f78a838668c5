// The form editor: form-js Editor on a form-js JSON schema (forms/<key>.form).

import { FormEditor } from '@bpmn-io/form-js-editor';

import { brokenReferences, proposeKey, schemaKeys } from './form-keys.js';

/** forms/plan_measures.form → plan_measures */
function formKey(path) {
  return String(path || '').replace(/^.*\//, '').replace(/\.form$/, '');
}

export function createFormEditor({ canvas, properties, context = {}, path = '' }) {
  // The properties panel goes to the page's side panel (collapsible), so the form gets the middle.
  const editor = new FormEditor({ container: canvas, propertiesPanel: { parent: properties } });
  const references = ((context && context.references) || {})[formKey(path)] || [];
  let loadedKeys = new Set();

  // A field dragged in gets a random key (`textfield_syteb`); while the admin has not typed a key of their
  // own, it follows the field's label: «Комментарий куратора» → kommentariy_kuratora.
  const fresh = new Map(); // field id -> the key we last gave it
  editor.on('commandStack.formField.add.postExecuted', ({ context: { formField } }) => {
    if (formField && typeof formField.key === 'string') {
      fresh.set(formField.id, formField.key);
    }
  });
  function proposeKeys() {
    const registry = editor.get('formFieldRegistry');
    const modeling = editor.get('modeling');
    for (const [id, given] of fresh) {
      const field = registry.get(id);
      if (!field || field.key !== given) {
        fresh.delete(id); // removed, or the admin chose the key
        continue;
      }
      const taken = new Set(registry.getAll().filter((other) => other.id !== id).map((other) => other.key).filter(Boolean));
      const wanted = field.label ? proposeKey(field.label, taken) : '';
      if (wanted && wanted !== field.key) {
        fresh.set(id, wanted);
        modeling.editFormField(field, 'key', wanted);
      }
    }
  }
  editor.on('commandStack.changed', () => setTimeout(proposeKeys, 0));

  return {
    modeler: editor,
    async load(text) {
      const schema = JSON.parse(text);
      loadedKeys = schemaKeys(schema);
      const { warnings } = await editor.importSchema(schema);
      return warnings;
    },
    async save() {
      return `${JSON.stringify(editor.saveSchema(), null, 2)}\n`;
    },
    onChange(listener) {
      editor.on('commandStack.changed', listener); // `changed` also fires on selection and panel state
    },
    has() {
      return false; // problems of a form file have no element id to point at
    },
    /** Warnings to confirm before saving: keys the template refers to that this save renames or removes. */
    beforeSave() {
      return brokenReferences(references, loadedKeys, editor.saveSchema()).map((ref) =>
        `Поле «${ref.key}» переименовано или удалено, а на него ссылается ${ref.by}.`);
    },
    saved() {
      loadedKeys = schemaKeys(editor.saveSchema());
    },
    showProblems() {},
    reveal() {},
    resized() {},
    fit() {},
  };
}
