// The DMN editor: dmn-js Modeler (decision requirements diagram and decision tables), with a tab per view.
//
// Problems from the server name DMN elements by id: a decision, or a cell (input/output entry, input
// expression) of its table. On the diagram (DRD) a problem shows as an overlay on its decision; in a
// decision table the cell itself is marked.

import DmnModeler from 'dmn-js/lib/Modeler';

import { fitFree } from './fit.js';
import { badge, byElement } from './problems.js';
import { translateRuModule } from './translate-ru.js';

const MARKER = 'has-problem';
const VIEW_TITLES = { drd: 'Схема решений', decisionTable: 'Таблица', literalExpression: 'Выражение', boxedExpression: 'Выражение' };

/** For every id inside a decision (the decision, its table, inputs, rules and cells): that decision's id. */
function decisionIndex(definitions) {
  const index = new Map();
  const walk = (node, decisionId) => {
    if (!node || typeof node !== 'object' || !node.$type) {
      return;
    }
    if (node.id) {
      index.set(node.id, decisionId);
    }
    for (const key of Object.keys(node)) {
      if (key.startsWith('$') || key === 'di') {
        continue;
      }
      const value = node[key];
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child === 'object' && child.$type && child.$parent === node) {
          walk(child, decisionId);
        }
      }
    }
  };
  for (const element of (definitions && definitions.drgElement) || []) {
    if (element.$type === 'dmn:Decision') {
      walk(element, element.id);
    }
  }
  return index;
}

export function createDmnEditor({ canvas, tabs }) {
  // Each view gets its modules separately: dmn-js replaces, not merges, `common.additionalModules`.
  const russian = { additionalModules: [translateRuModule] };
  const modeler = new DmnModeler({
    container: canvas, drd: russian, decisionTable: russian, literalExpression: russian, boxedExpression: russian,
  });
  // Table cells are re-rendered on every selection, which drops a class set on them: a stylesheet of
  // their ids marks them instead, whatever the table does.
  const cellStyle = document.createElement('style');
  canvas.before(cellStyle);
  let problems = [];
  let index = new Map();
  const listening = new WeakSet();
  const changeListeners = [];

  function renderTabs() {
    tabs.replaceChildren();
    const active = modeler.getActiveView();
    for (const view of modeler.getViews()) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'dmn-view-tab';
      button.dataset.viewType = view.type;
      button.dataset.elementId = view.element.id;
      const title = VIEW_TITLES[view.type] || view.type;
      button.textContent = view.type === 'drd' ? title : `${title}: ${view.element.name || view.element.id}`;
      if (active && active.element === view.element) {
        button.setAttribute('aria-current', 'true');
      }
      button.addEventListener('click', () => modeler.open(view));
      tabs.append(button);
    }
  }

  function markDiagram(viewer) {
    const overlays = viewer.get('overlays');
    const diagram = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    overlays.remove({ type: 'problem' });
    const byDecision = new Map();
    for (const problem of problems) {
      const decision = index.get(problem.element_id) || problem.element_id;
      byDecision.set(decision, [...(byDecision.get(decision) || []), problem]);
    }
    for (const [id, list] of byDecision) {
      if (registry.get(id)) {
        diagram.addMarker(id, MARKER);
        overlays.add(id, 'problem', { position: { top: -12, left: -12 }, scale: { min: 1 }, html: badge(list) });
      }
    }
  }

  function markTable() {
    cellStyle.textContent = problems.filter((problem) => problem.element_id).map((problem) =>
      `#${canvas.id} :is(td, th)[data-element-id="${CSS.escape(problem.element_id)}"] { outline: 2px solid #d92d20; outline-offset: -2px; background: #fdecea; }`,
    ).join('\n');
    for (const cell of canvas.querySelectorAll(`.${MARKER}`)) {
      cell.classList.remove(MARKER);
    }
    for (const [id, list] of byElement(problems)) {
      const cell = id && canvas.querySelector(`[data-element-id="${CSS.escape(id)}"]`);
      if (cell) {
        cell.classList.add(MARKER);
        cell.title = list.map((problem) => problem.message).join('\n');
      }
    }
  }

  function mark() {
    const viewer = modeler.getActiveViewer();
    const view = modeler.getActiveView();
    if (!viewer || !view) {
      return;
    }
    if (view.type === 'drd') {
      markDiagram(viewer);
    } else {
      markTable();
    }
  }

  const FREE = { left: '.djs-palette', top: '.dmn-definitions' }; // the title box must not cover the decisions
  const fitted = new WeakSet();

  function fitDiagram() {
    const view = modeler.getActiveView();
    const viewer = modeler.getActiveViewer();
    if (view && viewer && view.type === 'drd') {
      fitFree(viewer.get('canvas'), canvas, FREE);
    }
  }

  modeler.on('views.changed', () => {
    renderTabs();
    const viewer = modeler.getActiveViewer();
    const view = modeler.getActiveView();
    if (viewer && view && view.type === 'drd' && !fitted.has(viewer)) {
      fitted.add(viewer);
      fitDiagram();
    }
    if (viewer && !listening.has(viewer)) {
      listening.add(viewer);
      viewer.on('elements.changed', () => {
        index = decisionIndex(modeler.getDefinitions());
        setTimeout(mark, 0); // after the table re-rendered its cells
      });
      viewer.on('commandStack.changed', () => changeListeners.forEach((listener) => listener()));
    }
    setTimeout(mark, 0);
  });

  return {
    modeler,
    async load(text) {
      const { warnings } = await modeler.importXML(text);
      index = decisionIndex(modeler.getDefinitions());
      fitDiagram();
      return warnings;
    },
    async save() {
      return (await modeler.saveXML({ format: true })).xml;
    },
    onChange(listener) {
      changeListeners.push(listener);
    },
    has(id) {
      return Boolean(id) && (index.has(id) || modeler.getViews().some((view) => view.element.id === id));
    },
    showProblems(list) {
      problems = list;
      mark();
    },
    resized() {
      const view = modeler.getActiveView();
      if (view && view.type === 'drd') {
        modeler.getActiveViewer().get('canvas').resized();
      }
    },
    fit: fitDiagram,
    reveal(id) {
      const decision = index.get(id) || id;
      const views = modeler.getViews();
      const table = views.find((view) => view.element.id === decision && view.type !== 'drd');
      const target = id === decision ? views.find((view) => view.type === 'drd') || table : table;
      const scroll = () => {
        const cell = canvas.querySelector(`[data-element-id="${CSS.escape(id)}"]`);
        if (cell) {
          cell.scrollIntoView({ block: 'center', inline: 'center' });
        }
        const viewer = modeler.getActiveViewer();
        const view = modeler.getActiveView();
        if (view && view.type === 'drd' && viewer.get('elementRegistry').get(decision)) {
          viewer.get('selection').select(viewer.get('elementRegistry').get(decision));
        }
      };
      if (target && target !== modeler.getActiveView()) {
        modeler.open(target).then(() => setTimeout(scroll, 0));
      } else {
        scroll();
      }
    },
  };
}
