// The syntax of deadline and escalation rules, checked while typing (the server checks again on save:
// engine/timing/due.py and engine/bpmn/escalation.py are the authority). Returns a Russian message or null.

const DURATION = /^P(?!$)(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?)?$/;
const WORKING_DAYS = /^\d{1,3}WD$/;
const COHORT_DATE = /^cohort:[a-z][a-z0-9_]{0,62}$/;

const isOffset = (text) => DURATION.test(text) || WORKING_DAYS.test(text);

export function checkDeadline(value) {
  const text = (value || '').trim();
  if (!text || isOffset(text) || COHORT_DATE.test(text)) {
    return null;
  }
  return 'Ожидается длительность (P14D, PT48H), рабочие дни (5WD) или дата когорты (cohort:имя).';
}

export function checkEscalation(value) {
  const text = (value || '').trim();
  if (!text || text === 'none') {
    return null;
  }
  for (const step of text.split(',')) {
    const [after, levels, flag, ...rest] = step.trim().split(':');
    const ok = isOffset(after || '') && /^[123]$/.test(levels || '') && (flag === undefined || flag === 'federal') && !rest.length;
    if (!ok) {
      return `Шаг «${step.trim()}»: ожидается «через:уровней[:federal]», например 5WD:2 или 10WD:3:federal.`;
    }
  }
  return null;
}
