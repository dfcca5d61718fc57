// Import users: choose a users CSV or a OneRoster zip, preview what it
// would do (counts, ignored files and columns, every error), and apply it
// only after confirmation. Files over 5 MB go through an upload first.

import { h, clear, toast } from './dom.js';
import * as api from './api.js';
import { confirmDialog } from './dialog.js';
import { alertBox, setAlert, busy } from './form.js';
import { describe } from './errors.js';

/** DIRECT_LIMIT is the largest file sent in the request itself. */
const DIRECT_LIMIT = 5 * 1024 * 1024;

function contentTypeOf(file) {
  return /\.zip$/i.test(file.name) || file.type === 'application/zip' ? 'application/zip' : 'text/csv';
}

/** send posts the file (or its upload) for a dry run or the import. */
async function send(file, dryRun, uploaded) {
  if (file.size > DIRECT_LIMIT) {
    if (!uploaded.id) {
      const up = await api.post('/api/imports/uploads', {});
      const put = await fetch(up.uploadUrl, { method: 'PUT', body: file, headers: { 'Content-Type': contentTypeOf(file) } });
      if (!put.ok) throw new api.ApiError(put.status, 'internal', 'The upload failed; try again.');
      uploaded.id = up.importId;
    }
    return api.post('/api/imports', { importId: uploaded.id, dryRun });
  }
  return api.sendFile(`/api/imports${dryRun ? '?dryRun=true' : ''}`, file, contentTypeOf(file));
}

function count(label, n, id) {
  return h('div', { class: 'stat', id }, h('span', { class: 'stat-value', text: String(n) }), h('span', { class: 'stat-label', text: ` ${label}` }));
}

function errorsTable(errors) {
  const tbody = h('tbody');
  for (const e of errors) {
    tbody.append(h('tr', {}, h('td', { text: e.file }), h('td', { text: e.row ? String(e.row) : '—' }), h('td', { text: e.field || '—' }), h('td', { text: e.code }), h('td', { text: e.message })));
  }
  return h(
    'table',
    { class: 'table', id: 'import-errors' },
    h('caption', { text: 'Errors' }),
    h('thead', {}, h('tr', {}, ...['File', 'Row', 'Column', 'Code', 'Problem'].map((t) => h('th', { scope: 'col', text: t })))),
    tbody,
  );
}

/** mount draws the import screen. */
export function mount(main) {
  const input = h('input', { type: 'file', id: 'import-file', name: 'file', accept: '.csv,.zip,text/csv,application/zip' });
  const previewButton = h('button', { type: 'submit', class: 'button primary', id: 'import-preview', text: 'Preview' });
  const alert = alertBox('import-alert');
  const preview = h('section', { id: 'import-preview-panel', 'aria-live': 'polite' });
  let uploaded = { id: '' };
  const form = h(
    'form',
    { id: 'import-form', class: 'card' },
    h('p', { text: 'Upload a OneRoster 1.1 CSV bundle (.zip) or a users CSV with a username column. Nothing changes until you confirm.' }),
    h('div', { class: 'field' }, h('label', { for: 'import-file', class: 'field-label', text: 'File' }), input),
    previewButton,
  );
  input.addEventListener('change', () => {
    uploaded = { id: '' };
    clear(preview);
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = input.files[0];
    setAlert(alert, '');
    clear(preview);
    if (!file) {
      setAlert(alert, 'Choose a file first.');
      return;
    }
    busy(previewButton, true, 'Reading…');
    try {
      showPreview(file, await send(file, true, uploaded));
    } catch (err) {
      setAlert(alert, describe(err));
    } finally {
      busy(previewButton, false);
    }
  });

  function showPreview(file, s) {
    const stats = h(
      'div',
      { class: 'stats', id: 'import-counts' },
      count('to create', s.create, 'import-create'),
      count('to update', s.update, 'import-update'),
      count('to disable', s.disable, 'import-disable'),
      count('unchanged', s.unchanged, 'import-unchanged'),
      count('new schools', s.schoolsCreate, 'import-schools'),
    );
    preview.append(h('h2', { text: `Preview of ${file.name}` }), stats);
    if (s.ignoredFiles.length) preview.append(h('p', { id: 'import-ignored-files', text: `Ignored files: ${s.ignoredFiles.join(', ')}` }));
    if (s.ignoredColumns.length) {
      preview.append(h('p', { id: 'import-ignored-columns', text: `Ignored columns: ${s.ignoredColumns.map((c) => `${c.column} (${c.file})`).join(', ')}` }));
    }
    if (s.errorCount > 0) {
      preview.append(
        h('p', { class: 'alert error', role: 'alert', text: `${s.errorCount} error${s.errorCount === 1 ? '' : 's'}: the file cannot be imported until they are corrected.` }),
        errorsTable(s.errors),
      );
      return;
    }
    const apply = h('button', { type: 'button', class: 'button primary', id: 'import-apply', text: 'Import…' });
    apply.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: 'Import these users?',
        message: `${s.create} to create, ${s.update} to update, ${s.disable} to disable. Nothing is deleted.`,
        confirmLabel: 'Import',
      });
      if (!ok) return;
      busy(apply, true, 'Starting…');
      try {
        const started = await send(file, false, uploaded);
        clear(preview);
        preview.append(
          h('p', { class: 'alert success', id: 'import-started' }, 'The import is running as a task. ', h('a', { href: `#/tasks/${started.taskId}`, text: 'Follow it in Tasks' }), '.'),
        );
        toast('Import started');
      } catch (err) {
        busy(apply, false);
        setAlert(alert, describe(err));
        if (err.errors && err.errors.length) preview.append(errorsTable(err.errors));
      }
    });
    preview.append(apply);
  }

  main.append(h('h1', { text: 'Import users' }), alert, form, preview);
  return () => {};
}
