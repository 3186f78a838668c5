// The «500+» group of the properties panel: our `roadmap:` attributes (docs/templates.md) on lanes
// and user tasks, with choices taken from the bundle's context (roles, stages, forms, cohort calendar).
//
// Entries write through `modeling.updateProperties`, so every change is one undoable command; an
// emptied field removes its attribute instead of writing `roadmap:x=""`.

import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { h } from '@bpmn-io/properties-panel/preact';
import { useService } from 'bpmn-js-properties-panel';
import { is } from 'bpmn-js/lib/util/ModelUtil';

import { checkDeadline, checkEscalation } from './roadmap-rules.js';

const GROUP_ID = 'roadmap';
const LOW_PRIORITY = 400;

// Our own inputs take every keystroke at once (no debounce): a click on «Сохранить» right after
// typing must save what was typed.
const immediately = (fn) => fn;

function attribute(name) {
  return {
    get: (element) => element.businessObject.get(`roadmap:${name}`) || '',
    set: (modeling, element, value) => {
      const text = (value || '').trim();
      modeling.updateProperties(element, { [`roadmap:${name}`]: text || undefined });
    },
  };
}

/** Options for a select: an empty choice, the known values, and the current value even if unknown. */
function options(current, known, empty) {
  const list = [{ value: '', label: empty }, ...known];
  if (current && !known.some((option) => option.value === current)) {
    list.push({ value: current, label: `${current} (неизвестно)` });
  }
  return list;
}

function SelectAttribute({ element, id, name, label, description, known, empty }) {
  const modeling = useService('modeling');
  const { get, set } = attribute(name);
  return h(SelectEntry, {
    element,
    id,
    label,
    description,
    getValue: get,
    setValue: (value) => set(modeling, element, value),
    getOptions: () => options(get(element), known(), empty),
  });
}

function TextAttribute({ element, id, name, label, description, validate }) {
  const modeling = useService('modeling');
  const { get, set } = attribute(name);
  return h(TextFieldEntry, {
    element,
    id,
    label,
    description,
    validate,
    debounce: immediately,
    getValue: get,
    setValue: (value) => set(modeling, element, value),
  });
}

function laneEntries(element, context) {
  const roles = () => (context.roles || []).map((role) => ({ value: role, label: role }));
  return [
    {
      id: 'roadmap-role',
      element,
      component: SelectAttribute,
      isEdited: isSelectEntryEdited,
      name: 'role',
      label: 'Роль исполнителя',
      description: 'Задачи на этой дорожке получают пользователи с этой ролью. Пусто — роль по id дорожки.',
      known: roles,
      empty: '— по id дорожки —',
    },
  ];
}

function calendarHint(context) {
  const names = (context.calendar || []).map((name) => `cohort:${name}`);
  return names.length ? `; даты когорты: ${names.join(', ')}` : '';
}

function userTaskEntries(element, context) {
  const fromManifest = (context.deadlines || {})[element.businessObject.id];
  const emptyDeadline = fromManifest ? `Пусто — срок из manifest.json: ${fromManifest}.` : 'Пусто — срок из manifest.json.';
  const stages = () => (context.stages || []).map((stage) => ({ value: stage.key, label: `${stage.title} (${stage.key})` }));
  const forms = () => (context.forms || []).map((form) => ({ value: form, label: form }));
  return [
    {
      id: 'roadmap-stage', element, component: SelectAttribute, isEdited: isSelectEntryEdited,
      name: 'stage', label: 'Этап', known: stages, empty: '— не выбран —',
    },
    {
      id: 'roadmap-form', element, component: SelectAttribute, isEdited: isSelectEntryEdited,
      name: 'form', label: 'Форма', description: 'Файл forms/<форма>.form шаблона.', known: forms, empty: '— не выбрана —',
    },
    {
      id: 'roadmap-deadline', element, component: TextAttribute, isEdited: isTextFieldEntryEdited,
      name: 'deadline', label: 'Срок',
      description: `P14D — 14 дней, PT48H — 48 часов, 5WD — 5 рабочих дней${calendarHint(context)}. ${emptyDeadline}`,
      validate: checkDeadline,
    },
    {
      id: 'roadmap-escalation', element, component: TextAttribute, isEdited: isTextFieldEntryEdited,
      name: 'escalation', label: 'Эскалация',
      description: 'Шаги «через:уровней[:federal]» после срока, например 2WD:1, 5WD:2, 10WD:3:federal; ' +
        'none — без эскалации; пусто — как в manifest.json.',
      validate: checkEscalation,
    },
    {
      id: 'roadmap-subject', element, component: TextAttribute, isEdited: isTextFieldEntryEdited,
      name: 'subject', label: 'Тема задачи',
      description: 'Выражение над данными задачи, добавляется к названию во входящих, например risk_titles[risk_direction].',
    },
  ];
}

function RoadmapPropertiesProvider(propertiesPanel, roadmapContext) {
  this.getGroups = (element) => (groups) => {
    let entries = null;
    if (is(element, 'bpmn:Lane')) {
      entries = laneEntries(element, roadmapContext);
    } else if (is(element, 'bpmn:UserTask')) {
      entries = userTaskEntries(element, roadmapContext);
    }
    if (entries) {
      const general = groups.findIndex((group) => group.id === 'general');
      groups.splice(general + 1, 0, { id: GROUP_ID, label: '«500+»', entries, shouldOpen: true });
    }
    return groups;
  };
  propertiesPanel.registerProvider(LOW_PRIORITY, this);
}

RoadmapPropertiesProvider.$inject = ['propertiesPanel', 'roadmapContext'];

/** A bpmn-js module; `context` is what the editor page's data-context-url returned. */
export function roadmapPropertiesModule(context) {
  return {
    __init__: ['roadmapPropertiesProvider'],
    roadmapPropertiesProvider: ['type', RoadmapPropertiesProvider],
    roadmapContext: ['value', context || {}],
  };
}
