// Russian texts for form-js 1.x, which has no i18n of its own.
//
// * validation messages: the form's validator service is wrapped so that its English messages come
//   out in Russian, worded like the server's (engine/forms.py), so that a client and a server
//   message for the same problem are identical and shown once;
// * a few fixed UI strings (buttons, placeholders, aria labels) are replaced in the DOM;
// * the date picker (flatpickr, shared with form-js) gets the Russian locale.

import flatpickr from 'flatpickr';
import { Russian } from 'flatpickr/dist/esm/l10n/ru.js';

flatpickr.localize(Russian);

/** Genitive after «не больше/не меньше»: 1, 21, 101 take the singular, the rest the plural. */
function plural(count, one, many) {
  const n = Math.abs(Number(count));
  return n % 10 === 1 && n % 100 !== 11 ? one : many;
}

function number(text) {
  return String(text).replace('.', ',');
}

const MESSAGES = [
  [/^Field is required\.$/, () => 'Обязательное поле.'],
  [/^Value is not a number\.$/, () => 'Ожидается число.'],
  [/^Value is expected to be an integer\.$/, () => 'Значение должно быть целым числом.'],
  [
    /^Value is expected to have at most (\d+) decimal digits?\.$/,
    (n) => `Не больше ${n} ${plural(n, 'знака', 'знаков')} после запятой.`,
  ],
  [
    /^Please select a valid value, the two nearest valid values are (.+) and (.+)\.$/,
    (a, b) => `Недопустимое значение; ближайшие допустимые: ${number(a)} и ${number(b)}.`,
  ],
  [/^Field must match pattern .*\.$/s, () => 'Значение не соответствует шаблону.'],
  [/^Field must have minimum value of (.+)\.$/, (n) => `Значение должно быть не меньше ${number(n)}.`],
  [/^Field must have maximum value of (.+)\.$/, (n) => `Значение должно быть не больше ${number(n)}.`],
  [/^Field must have minimum length of (\d+)\.$/, (n) => `Не меньше ${n} ${plural(n, 'символа', 'символов')}.`],
  [/^Field must have maximum length of (\d+)\.$/, (n) => `Не больше ${n} ${plural(n, 'символа', 'символов')}.`],
  [/^Field must be a valid\s+international phone number\..*$/s, () => 'Некорректный номер телефона.'],
  [/^Field must be a valid email\.$/, () => 'Некорректный адрес электронной почты.'],
];

export function translateMessage(message) {
  if (typeof message !== 'string') {
    return message;
  }
  for (const [pattern, render] of MESSAGES) {
    const match = pattern.exec(message);
    if (match) {
      return render(...match.slice(1));
    }
  }
  return message;
}

/** Make the form's client-side validation speak Russian. Call before importSchema. */
export function localizeValidator(form) {
  const validator = form.get('validator', false);
  if (!validator) {
    return;
  }
  for (const name of ['validateField', 'validateFieldInstance']) {
    const original = validator[name];
    if (typeof original === 'function') {
      validator[name] = (...args) => {
        const errors = original.apply(validator, args);
        return Array.isArray(errors) ? errors.map(translateMessage) : errors;
      };
    }
  }
}

const TEXTS = new Map([
  ['Add new', 'Добавить'],
  ['Collapse', 'Свернуть'],
  ['Select', 'Выберите…'],
  ['No results', 'Ничего не найдено'],
  ['Browse', 'Выбрать файл'],
]);

const ATTRIBUTES = {
  placeholder: new Map([['Search', 'Поиск']]),
  'aria-label': new Map([
    ['Increment', 'Увеличить'],
    ['Decrement', 'Уменьшить'],
    ['Previous page', 'Предыдущая страница'],
    ['Next page', 'Следующая страница'],
  ]),
  title: new Map([['Remove tag', 'Удалить']]),
};

function translateText(node) {
  const text = node.data.trim();
  if (!text) {
    return;
  }
  let replacement = TEXTS.get(text);
  if (!replacement) {
    const expand = /^Expand all \((\d+)\)$/.exec(text);
    replacement = expand ? `Развернуть все (${expand[1]})` : null;
  }
  if (replacement) {
    node.data = node.data.replace(text, replacement);
  }
}

function translateAttributes(element) {
  for (const [name, table] of Object.entries(ATTRIBUTES)) {
    const value = element.getAttribute(name);
    if (value && table.has(value)) {
      element.setAttribute(name, table.get(value));
    }
  }
  const label = element.getAttribute('aria-label');
  const remove = label && /^Remove list item (\d+)$/.exec(label);
  if (remove) {
    element.setAttribute('aria-label', `Удалить пункт ${remove[1]}`);
  }
}

function translateTree(root) {
  if (root.nodeType === Node.TEXT_NODE) {
    translateText(root);
    return;
  }
  if (root.nodeType !== Node.ELEMENT_NODE) {
    return;
  }
  translateAttributes(root);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeType === Node.TEXT_NODE) {
      translateText(node);
    } else {
      translateAttributes(node);
    }
  }
}

/** Keep replacing form-js's fixed English UI strings inside `container`. */
export function localizeDom(container) {
  translateTree(container);
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'childList') {
        record.addedNodes.forEach(translateTree);
      } else if (record.type === 'characterData') {
        translateText(record.target);
      } else if (record.type === 'attributes') {
        translateAttributes(record.target);
      }
    }
  });
  observer.observe(container, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
    attributeFilter: Object.keys(ATTRIBUTES),
  });
  return observer;
}
