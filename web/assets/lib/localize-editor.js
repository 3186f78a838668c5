// Russian for what the bpmn.io editors show without passing it through their `translate` service: the whole
// form-js editor (it has no i18n: palette, properties panel, field types) and a few fixed texts of dmn-js
// (hit policies, aria labels). A MutationObserver on the editor's containers replaces such texts, and the
// title / placeholder / aria-label attributes, as they are rendered. What the admin edits — element names,
// the form's own labels, table cells, inputs — is never touched.

import { translateRu, RU } from './translate-ru.js';

const FORM = {
  // palette
  Components: 'Компоненты',
  'Search components': 'Поиск компонентов',
  'No components found.': 'Ничего не найдено.',
  Input: 'Ввод',
  Selection: 'Выбор',
  Presentation: 'Оформление',
  Containers: 'Контейнеры',
  Action: 'Действия',
  'Text field': 'Текстовое поле',
  'Text area': 'Длинный текст',
  Number: 'Число',
  'Date time': 'Дата и время',
  Expression: 'Выражение',
  'File picker': 'Файл',
  Checkbox: 'Флажок',
  'Checkbox group': 'Группа флажков',
  'Radio group': 'Радиокнопки',
  Select: 'Список',
  'Tag list': 'Список меток',
  'Text view': 'Текст',
  'Image view': 'Изображение',
  Table: 'Таблица',
  'HTML view': 'HTML-блок',
  'Document preview': 'Просмотр документа',
  Spacer: 'Отступ',
  Separator: 'Разделитель',
  Group: 'Группа',
  'Dynamic list': 'Повторяющийся список',
  iFrame: 'Встроенная страница',
  Button: 'Кнопка',
  Form: 'Форма',
  Default: 'Поле',
  'Drag and drop components here to start designing.': 'Перетащите сюда компоненты из палитры слева.',
  'Use the preview window to keep track of your changes.': 'Изменения видны сразу.',
  'Build your form': 'Соберите форму',
  // properties panel
  General: 'Общее',
  'Field label': 'Подпись поля',
  'Field description': 'Описание поля',
  Key: 'Ключ',
  'Binds to a form variable': 'Имя переменной, в которую попадёт значение поля',
  'Default value': 'Значение по умолчанию',
  Disabled: 'Отключено',
  'Read only': 'Только чтение',
  Required: 'Обязательное',
  Validation: 'Проверка',
  'Minimum length': 'Минимальная длина',
  'Maximum length': 'Максимальная длина',
  Minimum: 'Минимум',
  Maximum: 'Максимум',
  'Validation pattern': 'Шаблон проверки',
  'Custom regular expression': 'Своё регулярное выражение',
  'Custom error message': 'Своё сообщение об ошибке',
  Condition: 'Условие',
  'Hide if': 'Скрыть, если',
  'Condition under which the field is hidden': 'При каком условии поле скрыто',
  Layout: 'Расположение',
  Columns: 'Колонки',
  Auto: 'Авто',
  'Custom properties': 'Дополнительные свойства',
  'Options source': 'Источник вариантов',
  'Static options': 'Постоянные варианты',
  'Dynamic options': 'Варианты из данных',
  'Options expression': 'Выражение вариантов',
  'Input values key': 'Ключ входных значений',
  'Data source': 'Источник данных',
  Label: 'Подпись',
  Value: 'Значение',
  Text: 'Текст',
  Type: 'Тип',
  ID: 'Идентификатор',
  Appearance: 'Вид',
  Prefix: 'Префикс',
  Suffix: 'Суффикс',
  Serialization: 'Сериализация',
  'Output as string': 'Сохранять как строку',
  'Decimal digits': 'Знаков после запятой',
  Increment: 'Шаг',
  Constraints: 'Ограничения',
  'Disallow past dates': 'Запретить прошедшие даты',
  Subtype: 'Подтип',
  'Date label': 'Подпись даты',
  'Time label': 'Подпись времени',
  'Time format': 'Формат времени',
  'Time interval': 'Шаг времени',
  'Use 24h': '24 часа',
  Searchable: 'С поиском',
  Content: 'Содержимое',
  'Supports markdown and templating.': 'Поддерживает Markdown и шаблоны.',
  'Learn more': 'Подробнее',
  'Click to set a dynamic value with FEEL expression': 'Задать значение выражением FEEL',
  'FEEL expression is mandatory': 'Нужно выражение FEEL',
  'Select a form field to edit its properties.': 'Выберите поле формы, чтобы изменить его свойства.',
  'Allow add/delete items': 'Можно добавлять и удалять пункты',
  'Default number of items': 'Пунктов по умолчанию',
  'Disable collapse': 'Не сворачивать',
  'Number of non-collapsing items': 'Несворачиваемых пунктов',
  Path: 'Путь',
  'Where the child variables of this component are pathed to.': 'Куда попадают значения вложенных полей.',
  'Show outline': 'Показывать рамку',
  'Vertical alignment': 'Выравнивание по вертикали',
  Top: 'Сверху',
  Center: 'По центру',
  Bottom: 'Снизу',
  'Alternative text': 'Альтернативный текст',
  'Image source': 'Источник изображения',
  'Descriptive text for screen reader accessibility.': 'Текст для экранного диктора.',
  'Expression or static value (link/data URI)': 'Выражение или ссылка',
  Height: 'Высота',
  'Height of the container in pixels.': 'Высота в пикселях.',
  URL: 'Адрес',
  'Security attributes': 'Безопасность',
  'Version tag': 'Метка версии',
  Submit: 'Отправить',
  Reset: 'Сбросить',
  Checked: 'Отмечен',
  'Not checked': 'Не отмечен',
  'Compute on': 'Вычислять',
  'Value changes': 'При изменении значения',
  'Form submission': 'При отправке формы',
  'Define an expression to calculate the value of this field': 'Выражение, вычисляющее значение поля',
  'Define an expression to populate the options from.': 'Выражение, из которого берутся варианты.',
  'Define which input property to populate the values from': 'Из какого входного свойства брать значения',
  Pagination: 'Постраничный вывод',
  'Number of rows per page': 'Строк на странице',
  'Headers source': 'Источник заголовков',
  'Header items': 'Заголовки',
  Column: 'Колонка',
  'List of items': 'Список элементов',
  'Specify an expression to populate column items': 'Выражение для элементов колонки',
  'Specify the source from which to populate the table': 'Откуда брать строки таблицы',
  'Supported file formats': 'Допустимые форматы файлов',
  'Upload multiple files': 'Несколько файлов',
  'Document reference': 'Ссылка на документ',
  'Max height of preview container': 'Наибольшая высота области просмотра',
  Email: 'Эл. почта',
  Phone: 'Телефон',
  Custom: 'Своё',
  'Must not be empty.': 'Не может быть пустым.',
  'Must be unique.': 'Должно быть уникальным.',
  'Must be a variable or a dot separated path.': 'Латинское имя переменной или путь через точку.',
  'Must not conflict with other key/path assignments.': 'Не должно совпадать с другими ключами и путями.',
  'Should be greater than zero.': 'Должно быть больше нуля.',
  'Should be an integer.': 'Должно быть целым числом.',
  'Add new': 'Добавить',
  Collapse: 'Свернуть',
  'No results': 'Ничего не найдено',
  'Remove tag': 'Удалить',
  Search: 'Поиск',
  Undo: 'Отменить',
  Redo: 'Повторить',
  'Create entry': 'Добавить',
  'Delete entry': 'Удалить',
  'Drag to move': 'Перетащите, чтобы переместить',
  'Group label': 'Подпись группы',
  'Table label': 'Подпись таблицы',
  Title: 'Заголовок',
  Repeatable: 'Повторяемый',
  'Target value': 'Целевое значение',
  'Allows arbitrary precision values': 'Без потери точности для больших и дробных чисел',
  // «A comma-separated list of <a>file type specifiers</a>»: two text nodes
  'A comma-separated list of': 'Через запятую —',
  'file type specifiers': 'расширения или типы файлов',
  'Multiple form fields are selected. Select a single form field to edit its properties.':
    'Выбрано несколько полей. Выберите одно, чтобы изменить его свойства.',
  'Disable this field when it should not be interactive for end-users. Its data will not be submitted. This setting takes precedence over read-only.':
    'Поле недоступно для ввода, его значение не отправляется. Важнее, чем «Только чтение».',
  'Make this field read-only when it cannot be edited by the end-user, but its content is important for them to see. Its data will still be submitted.':
    'Поле видно, но не изменяется; его значение отправляется.',
  'Link referring to a hosted image, or use a data URI directly to embed image data into the form.':
    'Адрес изображения или data URI с самим изображением.',
  'Enter a form input variable that contains the data for the table or define an expression to populate the data dynamically.':
    'Входная переменная формы с данными таблицы или выражение, которое их вычисляет.',
  'The error message to display when the input does not match the regular expression.':
    'Сообщение, если значение не подходит под регулярное выражение.',
  'Enter a HTTPS URL to a source or populate it dynamically via a template or an expression (e.g., to pass a value from the variable).':
    'Адрес HTTPS, шаблон или выражение (например, адрес из переменной).',
  'Please make sure that the URL is safe as it might impose security risks.': 'Убедитесь, что адрес безопасен.',
  'Version tag by which this form can be referenced.': 'Метка версии, по которой можно сослаться на форму.',
  'Drag and drop components here.': 'Перетащите сюда компоненты.',
  'Use the preview window to test your form.': 'Проверить форму можно в окне просмотра.',
  'Opened in popup': 'Открыто во всплывающем окне',
  'Remove form field': 'Удалить поле',
  'Clear content': 'Очистить',
  'Should be a valid number': 'Должно быть числом',
  'Should be a valid number.': 'Должно быть числом.',
  'Should be greater than or equal to zero.': 'Должно быть не меньше нуля.',
  'Must be number': 'Должно быть числом',
  'Value must be a number.': 'Значение должно быть числом.',
  'A number is required.': 'Нужно число.',
  'Must not be empty': 'Не может быть пустым',
  'Must not contain spaces.': 'Не может содержать пробелы.',
  'Must not contain prefix.': 'Не может содержать префикс.',
  'Must be a valid QName.': 'Должно быть допустимым QName.',
  'Must not contain numerical path segments.': 'Путь не может содержать числовые части.',
  'Must not be a prohibited path.': 'Этот путь запрещён.',
  'Must not cause two binding paths to collide': 'Пути привязки не должны совпадать',
  'For security reasons the URL must start with "https".': 'Из соображений безопасности адрес должен начинаться с https.',
  'The document data source is required.': 'Нужен источник данных документа.',
  // choices of the properties panel's lists
  'Date & Time': 'Дата и время',
  'UTC offset': 'Со смещением от UTC',
  'UTC normalized': 'В UTC',
  'No timezone': 'Без часового пояса',
  Static: 'Постоянные',
  'Input data': 'Из входных данных',
  // the form's preview (form-js viewer)
  'No content to show.': 'Нечего показать.',
  'Nothing to show.': 'Нечего показать.',
  "External content couldn't be loaded.": 'Внешнее содержимое не загрузилось.',
  'Skip to search': 'К поиску',
  'Previous page': 'Предыдущая страница',
  'Next page': 'Следующая страница',
  Browse: 'Выбрать файл',
  'Add properties directly to the form schema, useful to configure functionality in custom-built task applications and form renderers.':
    'Свойства, которые записываются прямо в схему формы (для своих приложений и отрисовщиков форм).',
};

// dmn-js hit policies and texts it renders without `translate`
const DMN = {
  Unique: 'Единственное',
  First: 'Первое',
  Priority: 'По приоритету',
  Any: 'Любое',
  Collect: 'Все',
  'Collect (Sum)': 'Все (сумма)',
  'Collect (Min)': 'Все (минимум)',
  'Collect (Max)': 'Все (максимум)',
  'Collect (Count)': 'Все (количество)',
  'Rule order': 'В порядке правил',
  'Output order': 'В порядке выходов',
  'No overlap is possible and all rules are disjoint. Only a single rule can be matched': 'Правила не пересекаются: срабатывает не больше одного',
  'Rules may overlap. The first matching rule will be chosen': 'Правила могут пересекаться: выбирается первое подходящее',
  'Rules may overlap. The one with the highest priority will be chosen': 'Правила могут пересекаться: выбирается подходящее с наибольшим приоритетом',
  'Rules may overlap. Their output have to match': 'Правила могут пересекаться, но их результаты должны совпадать',
  'Collects the values of all matching rules': 'Собирает значения всех подходящих правил',
  'Collects the values of all matching rules and sums up to a single value': 'Складывает значения всех подходящих правил',
  'Collects the values of all matching rules and uses the lowest value': 'Берёт наименьшее из значений подходящих правил',
  'Collects the values of all matching rules and uses the highest value': 'Берёт наибольшее из значений подходящих правил',
  'Collects the values of all matching rules and counts the number of them': 'Считает подходящие правила',
  'Collects the values of all matching rules in rule order': 'Собирает значения подходящих правил в порядке правил',
  'Collects the values of all matching rules in decreasing output priority order': 'Собирает значения подходящих правил по убыванию приоритета выхода',
  'Decision table context menu': 'Меню таблицы решений',
  'Move Input': 'Переместить вход',
  'Move Output': 'Переместить выход',
  Input: 'Вход',
  Output: 'Выход',
  Annotation: 'Примечание',
};

// A button's title / aria-label, where the same English word means something else than as a label
const BUTTONS = {
  Increment: 'Увеличить',
  Decrement: 'Уменьшить',
};

const PREFIXES = [
  [/^Create an? (.+) element$/, (name) => `Добавить: ${word(name).toLowerCase()}`],
  [/^Remove (.+)$/, (name) => `Удалить: ${word(name).toLowerCase()}`],
  [/^List contains (\d+) items?$/, (count) => `Пунктов в списке: ${count}`],
  [/^Expand all \((\d+)\)$/, (count) => `Развернуть все (${count})`],
  [/^(Decision name|Input label|Output label|Input expression|Output name): (.*)$/s, (prefix, rest) => `${word(`${prefix}: `)}${rest}`],
];

function word(text) {
  if (Object.prototype.hasOwnProperty.call(FORM, text)) {
    return FORM[text];
  }
  if (Object.prototype.hasOwnProperty.call(DMN, text)) {
    return DMN[text];
  }
  return Object.prototype.hasOwnProperty.call(RU, text) ? translateRu(text) : null;
}

export function russian(text, button = false) {
  const clean = text.trim();
  if (!clean || !/[A-Za-z]/.test(clean)) {
    return null;
  }
  const direct = (button && Object.prototype.hasOwnProperty.call(BUTTONS, clean) && BUTTONS[clean]) || word(clean);
  if (direct) {
    return text.replace(clean, direct);
  }
  for (const [pattern, render] of PREFIXES) {
    const match = pattern.exec(clean);
    if (match) {
      const rendered = render(...match.slice(1));
      return rendered.includes('null') ? null : text.replace(clean, rendered);
    }
  }
  return null;
}

// The form-js viewer's own texts in the form being designed (its labels and options are the admin's)
const PREVIEW = {
  Select: 'Выберите…',
  Browse: 'Выбрать файл',
  'No files selected': 'Файл не выбран',
  Repeatable: 'Повторяется',
  'Add new': 'Добавить',
  Collapse: 'Свернуть',
  'No results': 'Ничего не найдено',
};

function previewText(text) {
  const clean = text.trim();
  const expand = /^Expand all \((\d+)\)$/.exec(clean);
  const rendered = Object.prototype.hasOwnProperty.call(PREVIEW, clean) ? PREVIEW[clean] : expand && `Развернуть все (${expand[1]})`;
  return rendered ? text.replace(clean, rendered) : null;
}

// Data, not UI: names on the diagram, the form being designed, table cells, anything typed. (A <select>'s
// options are UI: the properties panel's choices.)
const DATA = ['svg', 'input', 'textarea', '[contenteditable]', '.fjs-form-field', '.tjs-table tbody', '.dmn-definitions',
  '.editor-problems', '.bio-properties-panel-header-label', '.input-label', '.output-label', '.input-expression',
  '.output-name', '.type-ref'].join(', ');
const ATTRIBUTES = ['title', 'placeholder', 'aria-label'];

function translateNode(node) {
  if (node.nodeType === Node.TEXT_NODE) {
    const parent = node.parentElement;
    if (parent) {
      const inForm = parent.closest(DATA);
      const replacement = inForm ? inForm.matches('.fjs-form-field') && previewText(node.data) : russian(node.data);
      if (replacement && replacement !== node.data) {
        node.data = replacement;
      }
    }
    return;
  }
  if (node.nodeType !== Node.ELEMENT_NODE) {
    return;
  }
  // An input's own attributes are UI (its value is the data): the aria-label of a FEEL or template editor names
  // its entry. Inside data (the form being designed) only placeholders and buttons' titles are.
  const insideData = node.parentElement && node.parentElement.closest(DATA);
  const button = node.tagName === 'BUTTON';
  for (const name of ATTRIBUTES) {
    const value = node.getAttribute(name);
    if (value && (!insideData || name === 'placeholder' || button || node.tagName === 'A')) {
      const replacement = russian(value, button);
      if (replacement && replacement !== value) {
        node.setAttribute(name, replacement);
      }
    }
  }
}

function translateTree(root) {
  translateNode(root);
  if (root.nodeType !== Node.ELEMENT_NODE) {
    return;
  }
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    translateNode(node);
  }
}

/** Keep the editor's fixed English texts Russian inside each of `containers` (and in popups on <body>). */
export function localizeEditor(...containers) {
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'childList') {
        record.addedNodes.forEach(translateTree);
      } else if (record.type === 'characterData') {
        translateNode(record.target);
      } else if (record.type === 'attributes') {
        translateNode(record.target);
      }
    }
  });
  for (const container of containers.filter(Boolean)) {
    translateTree(container);
    observer.observe(container, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ATTRIBUTES });
  }
  return observer;
}
