// Visible UI texts of a template editor (tests/e2e/test_editors.py): text, title, placeholder and aria-label
// of what the libraries render, the options of closed lists included — not the data being edited (names on the
// diagram, table cells), nor a literal name set in <code> (the manifest editor names each section's JSON key so),
// nor the names and ids found by the diagram's search. The form being designed is looked at: form-js puts its own
// texts there («Select», «Browse»); the test's form has Russian labels.
() => {
  const roots = [document.getElementById('template-editor'), ...document.querySelectorAll('body > .djs-popup, body > .djs-parent')];
  const texts = new Set();
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const skip = '.djs-label, .djs-visual, .fjs-drag-container .fjs-form, input, textarea, .bio-properties-panel-header-label, [contenteditable], .dmn-definitions, .tjs-table tbody td, .tjs-table .input-expression, .tjs-table .output-name, .tjs-table .input-label, .tjs-table .output-label, .dms-input, .editor-problem-list, #editor-views, code, .djs-search-result';
  for (const root of roots) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const t = n.data.trim();
    if (!t || !el || el.closest(skip) || !visible(el.closest('select') || el)) continue; // a closed list's options too
    // an option names its value, a key of the template (a role, a stage, a JSON value): «Отбор (selection)»
    const value = el.tagName === 'OPTION' && el.value.replace(/^"(.*)"$/, '$1');
    const key = value && new RegExp(`\\b${value.replace(/\W/g, '\\$&')}\\b`, 'g');
    const shown = key ? t.replace(key, '').trim() : t;
    if (shown) texts.add(shown);
  }
  for (const el of root.querySelectorAll('[title], [placeholder], [aria-label]')) {
    if (el.closest('.djs-label, .dmn-definitions, .editor-problem-list')) continue;
    if (!visible(el)) continue;
    for (const a of ['title', 'placeholder', 'aria-label']) { const v = el.getAttribute(a); if (v && v.trim()) texts.add(v.trim()); }
  }
  }
  return [...texts];
}
