// Visible UI texts of a template editor (tests/e2e/test_editors.py): text, title, placeholder and aria-label
// of what the libraries render — not the data being edited (names on the diagram, the form, table cells), nor
// a literal name set in <code> (the manifest editor names each section's JSON key so), the names and ids found
// by the diagram's search.
() => {
  const roots = [document.getElementById('template-editor'), ...document.querySelectorAll('body > .djs-popup, body > .djs-parent')];
  const texts = new Set();
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const skip = '.djs-label, .djs-visual, .fjs-form-field, .fjs-drag-container .fjs-form, input, textarea, select, .bio-properties-panel-header-label, [contenteditable], .dmn-definitions, .tjs-table tbody td, .tjs-table .input-expression, .tjs-table .output-name, .tjs-table .input-label, .tjs-table .output-label, .dms-input, .editor-problem-list, #editor-views, code, .djs-search-result';
  for (const root of roots) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    const t = n.data.trim();
    if (t && el && !el.closest(skip) && visible(el)) texts.add(t);
  }
  for (const el of root.querySelectorAll('[title], [placeholder], [aria-label]')) {
    if (el.closest('.djs-label, .fjs-form-field .fjs-input, .dmn-definitions, .editor-problem-list')) continue;
    if (!visible(el)) continue;
    for (const a of ['title', 'placeholder', 'aria-label']) { const v = el.getAttribute(a); if (v && v.trim()) texts.add(v.trim()); }
  }
  }
  return [...texts];
}
