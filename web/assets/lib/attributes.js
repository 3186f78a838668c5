// JSON carried in data-* attributes of server-rendered pages (written with Jinja's |tojson).
export function readJson(element, attribute, fallback) {
  const raw = element.getAttribute(attribute);
  if (raw === null || raw.trim() === '') {
    return fallback;
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    console.error(`${attribute}: не JSON`, error);
    return fallback;
  }
}
