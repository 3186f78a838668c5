// bpmn-moddle drops a reference whose target id is not in the file, and saving then loses it. SpiffWorkflow
// templates rely on such references: `<bpmn:loopDataInputRef>risk_inputs</bpmn:loopDataInputRef>` names a
// process variable, not an element. Put each one back as a detached placeholder with that id, so that
// saving writes it exactly as it was read.

const UNRESOLVED = /^unresolved reference/;

export function keepUnresolvedReferences(warnings) {
  for (const warning of warnings || []) {
    const { element, property, value } = warning;
    if (!element || !property || !value || !UNRESOLVED.test(warning.message || '')) {
      continue;
    }
    const descriptor = element.$model.getPropertyDescriptor(element, property);
    if (!descriptor) {
      continue;
    }
    const placeholder = element.$model.create(descriptor.type, { id: value });
    if (descriptor.isMany) {
      element.get(property).push(placeholder);
    } else {
      element.set(property, placeholder);
    }
  }
}
