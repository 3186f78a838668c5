// A run page — a migration run (/admin/migrations/<id>) or a batch operation (/roadmaps/batches/<id>) — polls
// the run's progress and shows it (the same fields: processed, total, moved, failed); once the run is
// finished (or found interrupted), reload so the server renders the final per-instance results (or the
// resume button). No inline script: the page only carries data-progress-url, data-status and
// data-finished on #migration-run or #batch-run.

const POLL_MS = 2000;

function show(box, progress) {
  for (const name of ['processed', 'total', 'moved', 'failed']) {
    const field = box.querySelector(`[data-field="${name}"]`);
    if (field) field.textContent = String(progress[name]);
  }
  const bar = box.querySelector('[data-field="bar"]');
  if (bar) {
    bar.max = progress.total || 1;
    bar.value = progress.processed;
  }
}

async function poll(box) {
  try {
    const response = await fetch(box.dataset.progressUrl, { headers: { Accept: 'application/json' } });
    if (response.ok) {
      const progress = await response.json();
      show(box, progress);
      if (progress.finished || progress.interrupted) {
        window.location.reload();
        return;
      }
    }
  } catch {
    // a dropped connection is retried at the next tick
  }
  window.setTimeout(() => poll(box), POLL_MS);
}

const box = document.getElementById('migration-run') || document.getElementById('batch-run');
if (box && box.dataset.finished !== 'true' && box.dataset.status !== 'interrupted') {
  window.setTimeout(() => poll(box), POLL_MS);
}
