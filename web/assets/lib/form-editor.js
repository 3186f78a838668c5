// The form editor: form-js Editor on a form-js JSON schema (forms/<key>.form).

import { FormEditor } from '@bpmn-io/form-js-editor';

export function createFormEditor({ canvas, properties }) {
  // The properties panel goes to the page's side panel (collapsible), so the form gets the middle.
  const editor = new FormEditor({ container: canvas, propertiesPanel: { parent: properties } });
  return {
    modeler: editor,
    async load(text) {
      const { warnings } = await editor.importSchema(JSON.parse(text));
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
    showProblems() {},
    reveal() {},
    resized() {},
    fit() {},
  };
}
