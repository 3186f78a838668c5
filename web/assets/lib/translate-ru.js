// Russian for the most visible texts of bpmn-js, its properties panel and dmn-js (they ship English only).
// A text not listed here stays English; placeholders like {element} are filled in as the libraries expect.

const RU = {
  // properties panel
  General: 'Общее',
  Name: 'Название',
  ID: 'Идентификатор',
  Documentation: 'Описание',
  'Element documentation': 'Описание элемента',
  'Process documentation': 'Описание процесса',
  'Process name': 'Название процесса',
  'Process ID': 'Идентификатор процесса',
  Executable: 'Исполняемый',
  'Version tag': 'Метка версии',
  Condition: 'Условие',
  'Condition expression': 'Выражение условия',
  Type: 'Тип',
  Value: 'Значение',
  Timer: 'Таймер',
  'Multi-instance': 'Многоэкземплярность',
  'Loop cardinality': 'Число повторений',
  'Completion condition': 'Условие завершения',
  'Input collection': 'Входная коллекция',
  'Output collection': 'Выходная коллекция',
  'Input element': 'Элемент входа',
  'Output element': 'Элемент выхода',
  Errors: 'Ошибки',
  Escalation: 'Эскалация',
  Duration: 'Длительность',
  Date: 'Дата',
  Cycle: 'Цикл',
  '<none>': '<нет>',
  '<empty>': '<пусто>',
  'Learn more.': 'Подробнее.',
  // palette
  'Activate hand tool': 'Рука: перемещение схемы',
  'Activate lasso tool': 'Лассо: выделение',
  'Activate create/remove space tool': 'Добавить или убрать место',
  'Activate global connect tool': 'Соединить элементы',
  'Create start event': 'Стартовое событие',
  'Create intermediate/boundary event': 'Промежуточное или граничное событие',
  'Create end event': 'Конечное событие',
  'Create gateway': 'Шлюз',
  'Create task': 'Задача',
  'Create data object reference': 'Объект данных',
  'Create data store reference': 'Хранилище данных',
  'Create expanded sub-process': 'Подпроцесс',
  'Create pool/participant': 'Пул (участник)',
  'Create group': 'Группа',
  // context pad
  'Append end event': 'Добавить конечное событие',
  'Append gateway': 'Добавить шлюз',
  'Append task': 'Добавить задачу',
  'Append intermediate/boundary event': 'Добавить промежуточное событие',
  'Append text annotation': 'Добавить примечание',
  'Add text annotation': 'Добавить примечание',
  'Change element': 'Изменить тип элемента',
  'Change type': 'Изменить тип',
  Delete: 'Удалить',
  'Connect using sequence/message flow or association': 'Соединить потоком',
  'Connect using association': 'Соединить ассоциацией',
  'Connect to other element': 'Соединить с другим элементом',
  'Add lane above': 'Добавить дорожку выше',
  'Add lane below': 'Добавить дорожку ниже',
  'Divide into two lanes': 'Разделить на две дорожки',
  'Divide into three lanes': 'Разделить на три дорожки',
  // dmn-js
  'View DRD': 'Схема решений',
  'Hit policy:': 'Политика срабатывания:',
  'Decision name': 'Название решения',
  'Add rule': 'Добавить правило',
};

export function translateRu(template, replacements = {}) {
  const text = Object.prototype.hasOwnProperty.call(RU, template) ? RU[template] : template;
  return text.replace(/{([^}]+)}/g, (match, key) => (key in replacements ? replacements[key] : match));
}

/** A bpmn-js / dmn-js module replacing the `translate` service. */
export const translateRuModule = { translate: ['value', translateRu] };
