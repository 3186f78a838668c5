// Fit a diagram (diagram-js canvas) into the part of its container that the library's floating boxes leave
// free: the palette on the left, and in dmn-js the title box of the definitions at the top left. Plain
// `zoom('fit-viewport')` fits into the whole container, so that the palette covers the diagram's left edge.

const MARGIN = 16;

/** The container-relative right edge / bottom edge of the first visible element matching `selector`. */
function edge(container, selector, side) {
  const box = container.getBoundingClientRect();
  for (const element of container.querySelectorAll(selector)) {
    const rect = element.getBoundingClientRect();
    if (rect.width && rect.height) {
      return side === 'right' ? rect.right - box.left : rect.bottom - box.top;
    }
  }
  return 0;
}

/**
 * Zoom and scroll `canvas` so that the whole diagram is visible right of `left` (a selector: its right edge)
 * and below `top` (a selector: its bottom edge), never larger than 100 %.
 */
export function fitFree(canvas, container, { left = '.djs-palette', top = null } = {}) {
  canvas.zoom('fit-viewport', 'auto');
  const { inner, outer } = canvas.viewbox();
  if (!inner || !inner.width || !inner.height || !outer.width || !outer.height) {
    return;
  }
  const offsetLeft = (left ? edge(container, left, 'right') : 0) + MARGIN;
  const offsetTop = (top ? edge(container, top, 'bottom') : 0) + MARGIN;
  const width = outer.width - offsetLeft - MARGIN;
  const height = outer.height - offsetTop - MARGIN;
  if (width <= 0 || height <= 0) {
    return;
  }
  const scale = Math.min(width / inner.width, height / inner.height, 1);
  canvas.viewbox({
    x: inner.x - offsetLeft / scale,
    y: inner.y - offsetTop / scale,
    width: outer.width / scale,
    height: outer.height / scale,
  });
}
