// Problems of a template draft as the server reports them: {path, line, element_id, message}.

/** Whether a problem's path names the file being edited ("roadmap-500.bpmn" vs "draft/roadmap-500.bpmn"). */
export function samePath(problemPath, filePath) {
  const clean = (text) => String(text || '').replace(/\\/g, '/').replace(/^(\.\/|\/)+/, '');
  const a = clean(problemPath);
  const b = clean(filePath);
  return Boolean(a && b) && (a === b || a.endsWith(`/${b}`) || b.endsWith(`/${a}`));
}

/** Problems grouped by the element they are about; the badge shows how many. */
export function byElement(problems) {
  const groups = new Map();
  for (const problem of problems) {
    const list = groups.get(problem.element_id) || [];
    list.push(problem);
    groups.set(problem.element_id, list);
  }
  return groups;
}

export function badge(problems) {
  const element = document.createElement('span');
  element.className = 'problem-badge';
  element.textContent = problems.length > 1 ? String(problems.length) : '!';
  element.title = problems.map((problem) => problem.message).join('\n');
  element.setAttribute('role', 'img');
  element.setAttribute('aria-label', `Ошибок: ${problems.length}`);
  return element;
}
