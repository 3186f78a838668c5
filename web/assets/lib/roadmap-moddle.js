// Our BPMN extension attributes (docs/templates.md) as a bpmn-moddle descriptor, so that bpmn-js reads
// and writes them as typed properties (`businessObject.get('roadmap:stage')`) instead of loose $attrs.
// Attributes only, no elements: the engine reads nothing else in this namespace.

export const ROADMAP_NS = 'https://roadmap-500.ru/schema/1.0';

const attribute = (name) => ({ name, isAttr: true, type: 'String' });

export default {
  name: 'Roadmap',
  uri: ROADMAP_NS,
  prefix: 'roadmap',
  xml: { tagAlias: 'lowerCase' },
  associations: [],
  types: [
    {
      name: 'RoadmapLane',
      extends: ['bpmn:Lane'],
      properties: [attribute('role')],
    },
    {
      name: 'RoadmapUserTask',
      extends: ['bpmn:UserTask'],
      properties: ['stage', 'form', 'deadline', 'escalation', 'subject'].map(attribute),
    },
  ],
};
