// Confirmation of a dangerous action: a form with data-confirm="<dialog id>" opens that <dialog>, which says
// what will happen (written by the server: how many running processes, which schools), instead of submitting.
// The dialog's own form (method="dialog") closes it; the button with value="confirm" submits the action.
// Without JavaScript the action's form submits as it did.

for (const form of document.querySelectorAll('form[data-confirm]')) {
  const dialog = document.getElementById(form.dataset.confirm);
  if (!dialog || typeof dialog.showModal !== 'function') {
    continue;
  }
  form.addEventListener('submit', (event) => {
    if (form.dataset.confirmed === '1') {
      return;
    }
    event.preventDefault();
    dialog.returnValue = '';
    dialog.showModal();
  });
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'confirm') {
      form.dataset.confirmed = '1';
      form.requestSubmit();
    }
  });
}
