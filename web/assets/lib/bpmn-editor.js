// The BPMN editor: bpmn-js Modeler, its properties panel, and our «500+» group for `roadmap:` attributes.

import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import { fitFree } from './fit.js';
import { badge, byElement } from './problems.js';
import roadmapModdle from './roadmap-moddle.js';
import { roadmapPropertiesModule } from './roadmap-properties.js';
import { translateRuModule } from './translate-ru.js';
import { keepUnresolvedReferences } from './unresolved-references.js';

const MARKER = 'has-problem';

/** The shape that shows an element: itself, or for a process the pool (participant) that shows it. */
function shapeOf(registry, id) {
  if (!id) {
    return null;
  }
  return registry.get(id) || registry.find((element) =>
    element.type === 'bpmn:Participant' && element.businessObject.processRef && element.businessObject.processRef.id === id) || null;
}

export function createBpmnEditor({ canvas, properties, context }) {
  const modeler = new BpmnModeler({
    container: canvas,
    propertiesPanel: { parent: properties },
    additionalModules: [
      BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, roadmapPropertiesModule(context), translateRuModule,
    ],
    moddleExtensions: { roadmap: roadmapModdle },
  });
  const registry = () => modeler.get('elementRegistry');
  let marked = [];

  function reveal(id) {
    const shape = shapeOf(registry(), id);
    if (shape) {
      const diagram = modeler.get('canvas');
      modeler.get('selection').select(shape);
      if (diagram.zoom() < 0.75) {
        diagram.zoom(1); // a whole roadmap fitted to the screen is too small to read the element
      }
      diagram.scrollToElement(shape);
    }
  }

  return {
    modeler,
    async load(text) {
      const { warnings } = await modeler.importXML(text);
      keepUnresolvedReferences(warnings);
      fitFree(modeler.get('canvas'), canvas);
      return warnings;
    },
    async save() {
      return (await modeler.saveXML({ format: true })).xml;
    },
    onChange(listener) {
      modeler.on('commandStack.changed', listener);
    },
    has(id) {
      return Boolean(shapeOf(registry(), id));
    },
    showProblems(problems) {
      const overlays = modeler.get('overlays');
      const diagram = modeler.get('canvas');
      overlays.remove({ type: 'problem' });
      for (const id of marked) {
        diagram.removeMarker(id, MARKER);
      }
      marked = [];
      for (const [id, list] of byElement(problems)) {
        const shape = shapeOf(registry(), id);
        if (!shape) {
          continue;
        }
        diagram.addMarker(shape.id, MARKER);
        marked.push(shape.id);
        // Readable at any zoom: a whole roadmap fitted to the screen is drawn very small, and then the
        // badge covers its element; a click on the badge selects the element and zooms in.
        const html = badge(list);
        html.addEventListener('click', () => reveal(shape.id));
        overlays.add(shape.id, 'problem', { position: { top: -12, left: -12 }, scale: { min: 1 }, html });
      }
    },
    reveal,
    resized() {
      modeler.get('canvas').resized();
    },
    fit() {
      fitFree(modeler.get('canvas'), canvas);
    },
  };
}
