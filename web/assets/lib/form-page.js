// A server-rendered <form> whose fields are a form-js form (task page, questionnaire page).
//
// Contract (see web/static/vendor-notes.md):
//   <form method="post" id="POST_ID" data-readonly="false|true">
//     <input type="hidden" name="data" id="form-data">       (created when missing)
//     <div id="CONTAINER_ID" data-schema='{form-js JSON}' data-values='{...}' data-errors='{...}'></div>
//     <button type="submit" name="action" value="draft|complete">…</button>
//   </form>

import { Form } from '@bpmn-io/form-js-viewer';

import { localizeDom, localizeValidator } from './ru.js';
import { ServerErrors } from './server-errors.js';
import { readJson } from './attributes.js';

/** A copy of the schema without `filepicker` components (documents have their own widget). */
export function withoutFilepickers(node) {
  if (Array.isArray(node)) {
    return node.filter((item) => !(item && item.type === 'filepicker')).map(withoutFilepickers);
  }
  if (node && typeof node === 'object') {
    const copy = { ...node };
    if (Array.isArray(node.components)) {
      copy.components = withoutFilepickers(node.components);
    }
    return copy;
  }
  return node;
}

/** Resolve after the renderer and its effects have run (works in background tabs too). */
function settle() {
  const frame = () =>
    new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          resolve();
        }
      };
      requestAnimationFrame(() => setTimeout(finish, 0));
      setTimeout(finish, 120);
    });
  return frame().then(frame);
}

function showFirstError(container, { focus }) {
  const field = container.querySelector('.fjs-has-errors');
  if (!field) {
    return;
  }
  field.scrollIntoView({ block: 'center' });
  // Only plain text inputs: focusing a select or a date field would open its dropdown.
  const input = focus && field.querySelector('textarea, input:not([type]), input[type="text"], input[type="number"], input[type="email"], input[type="tel"]');
  if (input && !input.readOnly) {
    input.focus({ preventScroll: true });
  }
}

function renderGeneralErrors(container, items) {
  const id = `${container.id || 'form'}-errors`;
  let box = document.getElementById(id);
  if (!items.length) {
    if (box) {
      box.remove();
    }
    return;
  }
  if (!box) {
    box = document.createElement('div');
    box.id = id;
    box.className = 'form-errors flash flash-error';
    box.setAttribute('role', 'alert');
    container.parentNode.insertBefore(box, container);
  }
  box.replaceChildren();
  const title = document.createElement('p');
  title.className = 'form-errors-title';
  title.textContent = 'Исправьте ошибки:';
  const list = document.createElement('ul');
  for (const { label, messages } of items) {
    for (const message of messages) {
      const item = document.createElement('li');
      if (label) {
        const strong = document.createElement('strong');
        strong.textContent = `${label}: `;
        item.append(strong);
      }
      item.append(message);
      list.append(item);
    }
  }
  box.append(title, list);
}

function dataInputOf(postForm) {
  let input = postForm.querySelector('#form-data') || postForm.querySelector('input[name="data"]');
  if (!input) {
    input = document.createElement('input');
    input.type = 'hidden';
    input.name = 'data';
    input.id = 'form-data';
    postForm.prepend(input);
  }
  return input;
}

function submitButtons(postForm) {
  return Array.from(postForm.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]'));
}

function showFailure(container, error) {
  console.error(error);
  const message = document.createElement('p');
  message.className = 'flash flash-error';
  message.setAttribute('role', 'alert');
  message.textContent = 'Не удалось показать форму. Обновите страницу; если ошибка повторится, сообщите администратору.';
  container.replaceChildren(message);
  container.dataset.formError = String((error && error.message) || error);
  document.documentElement.dataset.formReady = 'error';
}

/**
 * Mount a form-js form in `#containerId` and wire the submit of `#postId`.
 *
 * @param {{ postId: string, containerId: string, draftAction?: string|null }} options
 *   draftAction: the value of the submit button that saves a draft (client errors do not block it);
 *   null when there is no draft.
 * @returns {Promise<Form|null>}
 */
export async function mountFormPage({ postId, containerId, draftAction = null }) {
  const postForm = document.getElementById(postId);
  const container = document.getElementById(containerId);
  if (!postForm || !container) {
    return null;
  }
  const readonly = postForm.dataset.readonly === 'true' || container.dataset.readonly === 'true';
  const schema = readJson(container, 'data-schema', null);
  const values = readJson(container, 'data-values', {}) || {};
  const serverErrors = readJson(container, 'data-errors', {}) || {};
  const dataInput = dataInputOf(postForm);

  if (readonly) {
    for (const button of submitButtons(postForm)) {
      button.hidden = true;
    }
    postForm.classList.add('is-readonly');
  }
  // Until the form is mounted (or if mounting failed) there is no data to send.
  let form = null;
  let submitting = false;
  window.addEventListener('pageshow', () => {
    submitting = false;
  });
  postForm.addEventListener('submit', (event) => {
    if (readonly) {
      return;
    }
    if (!form || submitting) {
      event.preventDefault();
      return;
    }
    const submitter = event.submitter;
    const action = submitter ? submitter.value : '';
    const isDraft = draftAction !== null && action === draftAction;
    let result;
    try {
      result = form.submit();
    } catch (error) {
      console.error(error);
      event.preventDefault();
      return;
    }
    if (!isDraft && Object.keys(result.errors || {}).length) {
      event.preventDefault();
      // form-js shows its own messages; bring the first one into view once rendered.
      settle().then(() => showFirstError(container, { focus: true }));
      return;
    }
    dataInput.value = JSON.stringify(result.data);
    submitting = true;
  });

  if (!schema || !Array.isArray(schema.components)) {
    showFailure(container, new Error('data-schema: нет схемы формы'));
    return null;
  }

  let mounted;
  let errors;
  try {
    mounted = new Form({ container, properties: { readOnly: readonly, ariaLabel: container.dataset.label || undefined } });
    localizeValidator(mounted);
    localizeDom(container);
    await mounted.importSchema(withoutFilepickers(schema), values);
    errors = new ServerErrors(mounted, serverErrors);
    await settle();
  } catch (error) {
    showFailure(container, error);
    return null;
  }

  renderGeneralErrors(container, errors.unshown());
  if (errors.count) {
    showFirstError(container, { focus: false });
  }

  form = mounted;
  container.formJs = form;
  document.documentElement.dataset.formReady = '1';
  container.dispatchEvent(new CustomEvent('form:ready', { bubbles: true, detail: { form } }));
  return form;
}
