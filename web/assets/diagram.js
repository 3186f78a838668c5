// BPMN diagrams: a bpmn-js NavigatedViewer (pan with the mouse, zoom with Ctrl+wheel) in every
// `.bpmn-diagram` element.  Contract: web/static/vendor-notes.md.
//
//   <div class="bpmn-diagram"
//        data-xml-url="/templates/roadmap-500/1/diagram.bpmn"   GET → BPMN 2.0 XML
//        data-process="roadmap_500"          optional: participant or process id to zoom to
//        data-done='["start", "confirm_participation"]'   canvas marker `done`
//        data-current='["run_questionnaires"]'            canvas marker `current`
//        data-overdue='["run_questionnaires"]'            canvas marker `overdue`
//        data-incident='["choose_path"]'                  canvas marker `incident` (a failed step)
//        data-added='["new_task"]', data-changed='["review"]'  markers `diff-added`, `diff-changed` (version diff)
//        data-heat='{"run_questionnaires": 12, "curator_visit": 3}'  count badges
//        data-heat-url="/dashboard/heatmap/schools?element=__ELEMENT__"  optional: each badge links there
//        data-heat-title="Школ на этом шаге: {n}. …"  the badge's tooltip ({n}: the count)
//        data-links='{"review_concept": 12}'  current steps the viewer may open → their task ids; only
//        data-link-url="/tasks/__TASK__"      these are clickable (the step and its flag link to the task)
//        data-link-label="Открыть задачу"    the tooltip of such a step's flag
//        data-here-label="Сейчас здесь"      the flag over each current step (translated by the page)
//        data-zoom-labels='{"in": "Крупнее", "out": "Мельче", "fit": "Вписать", "reset": "100 %"}'
//        aria-label="Схема процесса"></div>
//
// Every diagram gets zoom buttons (in, out, fit to the process, 100 %) in its top right corner.
//
// When the diagram is shown the element gets `data-ready="1"` and a `bpmn:ready` event (detail:
// {viewer, warnings}); on failure `data-error="…"`, a message inside it and a `bpmn:error` event.

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { readJson } from './lib/attributes.js';

const MARKERS = [
  ['done', 'done'],
  ['current', 'current'],
  ['overdue', 'overdue'],
  ['incident', 'incident'],
  ['added', 'diff-added'], // the version diff: elements new in this version
  ['changed', 'diff-changed'], // … and elements (or user tasks' attributes) changed
];

const PADDING = 20;

/** The participant (pool) to zoom to: by its own id or by the id of the process it shows. */
function findFocus(registry, id) {
  if (!id) {
    return null;
  }
  const direct = registry.get(id);
  if (direct && direct.type === 'bpmn:Participant') {
    return direct;
  }
  return (
    registry.find(
      (element) =>
        element.type === 'bpmn:Participant' &&
        element.businessObject.processRef &&
        element.businessObject.processRef.id === id,
    ) || null
  );
}

/** Fit the canvas to the whole diagram or to one element, centred. False if the canvas has no size. */
function fit(canvas, focus) {
  const size = canvas.getSize();
  if (!size.width || !size.height) {
    return false;
  }
  if (!focus) {
    canvas.zoom('fit-viewport', 'auto');
    return true;
  }
  const box = {
    x: focus.x - PADDING,
    y: focus.y - PADDING,
    width: focus.width + 2 * PADDING,
    height: focus.height + 2 * PADDING,
  };
  const scale = Math.min(size.width / box.width, size.height / box.height, 1.5);
  const width = size.width / scale;
  const height = size.height / scale;
  canvas.viewbox({
    x: box.x + box.width / 2 - width / 2,
    y: box.y + box.height / 2 - height / 2,
    width,
    height,
  });
  return true;
}

function addMarkers(element, canvas, registry) {
  for (const [attribute, marker] of MARKERS) {
    const ids = readJson(element, `data-${attribute}`, []);
    if (!Array.isArray(ids)) {
      continue;
    }
    for (const id of ids) {
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
      }
    }
  }
}

function addHeat(element, overlays, registry) {
  const heat = readJson(element, 'data-heat', null);
  if (!heat || typeof heat !== 'object') {
    return;
  }
  const counts = Object.entries(heat).filter(([id, count]) => registry.get(id) && Number(count) > 0);
  const max = Math.max(0, ...counts.map(([, count]) => Number(count)));
  const url = element.dataset.heatUrl;
  const title = element.dataset.heatTitle || 'Школ на этом шаге: {n}';
  for (const [id, raw] of counts) {
    const count = Number(raw);
    const share = max ? count / max : 0;
    // A count is a link to the schools behind it (as Camunda Cockpit lists the instances at an activity).
    const badge = document.createElement(url ? 'a' : 'span');
    badge.className = 'heat-badge';
    badge.textContent = String(count);
    badge.title = title.replace('{n}', String(count));
    badge.dataset.element = id;
    if (url) {
      badge.href = url.replace('__ELEMENT__', encodeURIComponent(id));
    }
    badge.dataset.share = share.toFixed(2);
    // Pale (few) → strong (the most): lightness 92% → 38%.
    const lightness = Math.round(92 - 54 * share);
    badge.style.backgroundColor = `hsl(14, 85%, ${lightness}%)`;
    badge.style.color = lightness < 60 ? '#fff' : '#5a1a00';
    // Readable at any zoom: never smaller than 90% nor larger than 150% of its CSS size.
    overlays.add(id, 'heat', { position: { top: -10, right: 12 }, scale: { min: 0.9, max: 1.5 }, html: badge });
  }
}

/** Element id → the URL of its task, for the current steps the viewer may open (the server decides). */
function readLinks(element) {
  const links = readJson(element, 'data-links', {});
  const url = element.dataset.linkUrl;
  if (!url || !links || typeof links !== 'object') {
    return {};
  }
  return Object.fromEntries(
    Object.entries(links).map(([id, taskId]) => [id, url.replace('__TASK__', encodeURIComponent(String(taskId)))]),
  );
}

function addHere(element, overlays, registry, links) {
  const label = element.dataset.hereLabel || 'Сейчас здесь';
  for (const id of readJson(element, 'data-current', [])) {
    if (!registry.get(id)) continue;
    const flag = document.createElement(links[id] ? 'a' : 'span');
    flag.className = 'here-flag';
    flag.textContent = label;
    flag.dataset.element = id;
    if (links[id]) {
      flag.href = links[id];
      flag.title = element.dataset.linkLabel || 'Открыть задачу';
    }
    overlays.add(id, 'here', { position: { top: -24, left: 0 }, scale: { min: 0.9, max: 1.4 }, html: flag });
  }
}

/** A step the viewer may open is a link: marked (pointer cursor) and opened on a click. Others are not. */
function addLinks(canvas, registry, eventBus, links) {
  for (const id of Object.keys(links)) {
    if (registry.get(id)) {
      canvas.addMarker(id, 'linked');
    }
  }
  eventBus.on('element.click', (event) => {
    const target = links[event.element.id];
    if (target) {
      window.location.assign(target);
    }
  });
}

const ZOOM_LABELS = { in: 'Крупнее', out: 'Мельче', fit: 'Вписать', reset: '100 %' };
const ZOOM_STEP = 1.25;

/** Buttons over the diagram: people who never used Ctrl+wheel can still zoom, and get back to the whole view. */
function addZoomControls(element, canvas, fitAll) {
  const labels = { ...ZOOM_LABELS, ...readJson(element, 'data-zoom-labels', {}) };
  const bar = document.createElement('div');
  bar.className = 'diagram-zoom';
  bar.setAttribute('role', 'toolbar');
  // Without a centre diagram-js zooms about the middle of what is shown, as people expect of buttons.
  const zoomBy = (factor) => canvas.zoom(canvas.zoom() * factor);
  const actions = {
    in: () => zoomBy(ZOOM_STEP),
    out: () => zoomBy(1 / ZOOM_STEP),
    fit: fitAll,
    reset: () => canvas.zoom(1, 'auto'),
  };
  const glyphs = { in: '+', out: '−', fit: '⤢', reset: '1:1' };
  for (const [name, action] of Object.entries(actions)) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'btn btn-small';
    button.dataset.zoom = name;
    button.textContent = glyphs[name];
    button.title = labels[name];
    button.setAttribute('aria-label', labels[name]);
    button.addEventListener('click', action);
    bar.append(button);
  }
  element.append(bar);
}

function showFailure(element, error, viewer) {
  console.error(error);
  if (viewer) {
    viewer.destroy();
    delete element.bpmnViewer;
  }
  element.dataset.error = String((error && error.message) || error);
  const message = document.createElement('p');
  message.className = 'bpmn-diagram-error';
  message.setAttribute('role', 'alert');
  message.textContent = 'Не удалось показать схему процесса.';
  element.append(message);
  element.dispatchEvent(new CustomEvent('bpmn:error', { bubbles: true, detail: { error } }));
}

async function mount(element) {
  const url = element.dataset.xmlUrl;
  if (!url) {
    showFailure(element, new Error('нет data-xml-url'));
    return;
  }
  const viewer = new NavigatedViewer({ container: element });
  element.bpmnViewer = viewer;
  try {
    const response = await fetch(url, {
      credentials: 'same-origin',
      headers: { Accept: 'application/xml, text/xml, */*' },
    });
    if (!response.ok) {
      throw new Error(`GET ${url}: ${response.status}`);
    }
    const { warnings } = await viewer.importXML(await response.text());
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    addMarkers(element, canvas, registry);
    addHeat(element, viewer.get('overlays'), registry);
    const links = readLinks(element);
    addHere(element, viewer.get('overlays'), registry, links);
    addLinks(canvas, registry, viewer.get('eventBus'), links);

    const focus = findFocus(registry, element.dataset.process);
    let fitted = fit(canvas, focus);
    addZoomControls(element, canvas, () => fit(canvas, focus));
    // A diagram in a hidden tab has no size yet: fit when it gets one.
    const observer = new ResizeObserver(() => {
      canvas.resized();
      if (!fitted) {
        fitted = fit(canvas, focus);
      }
    });
    observer.observe(element);

    element.dataset.ready = '1';
    element.dispatchEvent(new CustomEvent('bpmn:ready', { bubbles: true, detail: { viewer, warnings } }));
  } catch (error) {
    showFailure(element, error, viewer);
  }
}

for (const element of document.querySelectorAll('.bpmn-diagram')) {
  mount(element);
}
