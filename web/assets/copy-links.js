// Respondent links (/schools/<code>/questionnaires): copy them all at once, or save them as a text file.
// The page carries <textarea data-copy-source id="…"> and buttons with data-copy="<id>" / data-save="<id>";
// the result is announced in the element named by the button's data-status (role="status").

function announce(button, text) {
  const status = document.getElementById(button.dataset.status || '');
  if (status) status.textContent = text;
}

async function copy(button, source) {
  try {
    await navigator.clipboard.writeText(source.value);
    announce(button, button.dataset.done || 'Скопировано');
  } catch {
    // No clipboard (plain HTTP, an old browser): select the text so Ctrl+C copies it.
    source.focus();
    source.select();
    announce(button, button.dataset.manual || 'Нажмите Ctrl+C, чтобы скопировать');
  }
}

function save(button, source) {
  const url = URL.createObjectURL(new Blob([`${source.value}\n`], { type: 'text/plain;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = button.dataset.filename || 'links.txt';
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

for (const button of document.querySelectorAll('[data-copy], [data-save]')) {
  const source = document.getElementById(button.dataset.copy || button.dataset.save);
  if (!source) continue;
  button.hidden = false;
  button.addEventListener('click', () => (button.dataset.copy ? copy(button, source) : save(button, source)));
}
