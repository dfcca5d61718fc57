// The task centre: every bulk task with live progress (polled every two
// seconds while it runs), cancel, the funnel of what became of the emails,
// per-user results filtered by state, follow-ups and the CSV download.
// An import task shows its per-row results instead (file, row, outcome,
// what changed), read from GET /api/imports/{id}/results, the contract for
// an import's rows; the bulk-only parts are hidden for it.

import { h, clear, icon } from './dom.js';
import * as api from './api.js';
import { confirmDialog } from './dialog.js';
import { describe } from './errors.js';
import { setAlert } from './form.js';
import { badge, TASK_STATUS, OUTCOMES, RESULT_STATES, IMPORT_OUTCOMES, num, when } from './format.js';
import { buildApprovals } from './approvals.js';

const POLL_MS = 2000;
// A task awaiting approval has not ended: it is polled like a running one,
// so that its creator sees it start once approved.
const ACTIVE = new Set(['awaiting_approval', 'queued', 'running']);
const PASSWORD_DELIVERIES = new Set(['default_password', 'generated_passwords']);

/** FUNNEL is the order of the funnel's counts, from sent to how they ended. */
const FUNNEL = [
  ['sent', 'Sent'],
  ['delivered', 'Delivered'],
  ['bounced', 'Bounced'],
  ['complained', 'Spam reports'],
  ['completed', 'Completed'],
  ['expired', 'Expired'],
];

/**
 * FOLLOW_UPS are the follow-up tasks a finished task offers
 * (POST /api/tasks/{id}/follow-ups); each asks first, since it sends mail
 * or changes passwords.
 */
const FOLLOW_UPS = [
  {
    action: 'resend_unfinished',
    label: 'Resend to unfinished',
    confirm: 'Email a new reset link to every user who has not set a new password yet? Addresses that bounced or reported spam are left out, and so are users without email.',
  },
  {
    action: 'retry_failed',
    label: 'Retry failed',
    confirm: 'Run this task again for the users it failed for?',
  },
  {
    action: 'generated_passwords_for_no_email',
    label: 'Generated passwords for users without email',
    confirm: 'Give every user without an email address a new generated password? Their current passwords stop working; hand out the new ones from the results file or the login letters.',
  },
];

/** taskTitle is what a task is called: its name, or its kind for a task from before names. */
export function taskTitle(t) {
  return t.name || kindLabel(t.kind);
}

/** kindLabel names a task kind. */
export function kindLabel(kind) {
  const known = { bulk_reset: 'Bulk password reset', scheduled_reset: 'Scheduled password reset', bulk_password_reset: 'Bulk password reset' };
  if (known[kind]) return known[kind];
  if (!kind) return 'Task';
  const s = String(kind).replace(/[_-]+/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** percent is the share of a task done, 0–100. */
export function percent(t) {
  const total = Number(t.total) || 0;
  if (!total) return ACTIVE.has(t.status) ? 0 : 100;
  return Math.min(100, Math.floor(((Number(t.processed) || 0) * 100) / total));
}

/** mount draws #/tasks or #/tasks/{id}. */
export function mount(main, ctx) {
  return ctx.parts[1] ? mountDetail(main, ctx, ctx.parts[1]) : mountList(main, ctx);
}

function progressCell(t) {
  const bar = h('progress', { max: String(Math.max(1, Number(t.total) || 0)), 'aria-label': `Progress of task started ${new Date(t.createdAt).toLocaleString()}` });
  bar.value = Number(t.processed) || 0;
  return h('div', { class: 'progress-cell' }, bar, h('span', { class: 'num', text: `${num(t.processed)} / ${num(t.total)}` }));
}

function mountList(main, ctx) {
  let disposed = false;
  let timer = 0;
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'data-table', id: 'tasks-table' },
    h('caption', { class: 'visually-hidden', text: 'Tasks, newest first' }),
    h('thead', {}, h('tr', {}, ...['Started', 'Task', 'Status', 'Progress', 'Failed', 'No email'].map((c) => h('th', { scope: 'col', text: c })))),
    tbody,
  );
  const status = h('p', { class: 'status-line', role: 'status', id: 'tasks-status' });
  const alert = h('div', { class: 'alert', role: 'alert', id: 'tasks-error' });
  const more = h('button', { type: 'button', class: 'button', id: 'tasks-more', text: 'Show older tasks', hidden: true });
  const empty = h(
    'div',
    { class: 'empty-state', id: 'tasks-empty', hidden: true },
    h('p', { class: 'empty-title', text: 'No tasks yet.' }),
    h('p', {}, 'Bulk resets you start appear here with their progress. ', h('a', { href: '#/bulk', text: 'Start a bulk reset' }), '.'),
  );
  const approvals = buildApprovals(ctx, {
    onDecided: (t) => {
      drawRow(t);
      approvals.refresh([...rows.values()].map((r) => r.task));
      schedulePoll();
    },
  });
  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Tasks' }), h('a', { href: '#/bulk', class: 'button primary', id: 'tasks-new', text: 'New bulk reset' })),
    alert,
    approvals.el,
    status,
    h('div', { class: 'table-wrap' }, table),
    empty,
    more,
  );
  const rows = new Map(); // task id -> { tr, task, and the cells that change }
  let cursor = '';

  function drawRow(t) {
    const existing = rows.get(t.id);
    if (existing) {
      // Update the changing cells only, so focus on the row's link survives polling.
      existing.task = t;
      existing.status.replaceChildren(badge(TASK_STATUS, t.status));
      existing.progress.replaceChildren(progressCell(t));
      existing.failed.textContent = num(t.failed);
      existing.noEmail.textContent = num(t.noEmail);
      return;
    }
    const r = {
      task: t,
      status: h('td', { 'data-label': 'Status' }, badge(TASK_STATUS, t.status)),
      progress: h('td', { 'data-label': 'Progress' }, progressCell(t)),
      failed: h('td', { 'data-label': 'Failed', class: 'num', text: num(t.failed) }),
      noEmail: h('td', { 'data-label': 'No email', class: 'num', text: num(t.noEmail) }),
    };
    r.tr = h(
      'tr',
      { 'data-task-id': t.id },
      h('td', { 'data-label': 'Started' }, h('a', { href: `#/tasks/${encodeURIComponent(t.id)}`, id: `task-link-${t.id}` }, when(t.createdAt))),
      h('td', { 'data-label': 'Task', text: taskTitle(t) }),
      r.status,
      r.progress,
      r.failed,
      r.noEmail,
    );
    tbody.append(r.tr);
    rows.set(t.id, r);
  }

  async function load() {
    more.disabled = true;
    status.textContent = 'Loading tasks…';
    try {
      const page = await api.get(`/api/tasks${api.query({ limit: 25, cursor })}`);
      if (disposed) return;
      for (const t of page.items || []) drawRow(t);
      approvals.refresh([...rows.values()].map((r) => r.task));
      cursor = page.nextCursor || '';
      more.hidden = !cursor;
      empty.hidden = rows.size > 0;
      table.parentElement.hidden = rows.size === 0;
      status.textContent = rows.size ? `${num(rows.size)} ${rows.size === 1 ? 'task' : 'tasks'} shown.` : '';
      schedulePoll();
    } catch (err) {
      if (disposed) return;
      setAlert(alert, describe(err));
      status.textContent = '';
    } finally {
      more.disabled = false;
    }
  }

  function schedulePoll() {
    clearTimeout(timer);
    const active = [...rows.values()].filter((r) => ACTIVE.has(r.task.status));
    if (!active.length || disposed) return;
    timer = setTimeout(async () => {
      await Promise.all(
        active.map((r) =>
          api.get(`/api/tasks/${encodeURIComponent(r.task.id)}`).then(
            (t) => !disposed && drawRow(t),
            () => {},
          ),
        ),
      );
      schedulePoll();
    }, POLL_MS);
  }

  more.addEventListener('click', load);
  load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}

function mountDetail(main, ctx, id) {
  let disposed = false;
  let timer = 0;
  let lastStatus = '';
  const path = `/api/tasks/${encodeURIComponent(id)}`;

  const heading = h('h1', { text: 'Task' });
  const started = h('p', { class: 'muted', id: 'task-started' });
  const statusHolder = h('div', { id: 'task-status', class: 'task-status' });
  const announcer = h('p', { class: 'visually-hidden', role: 'status', id: 'task-announcer' });
  const bar = h('progress', { id: 'task-progress', max: '1', 'aria-labelledby': 'task-progress-label' });
  bar.value = 0;
  const pctText = h('span', { id: 'task-percent', class: 'num' });
  const stat = (key, label) => {
    const dd = h('dd', { id: `task-${key}`, class: 'num', text: '—' });
    return { key, dd, el: h('div', { class: 'stat' }, h('dt', { text: label }), dd) };
  };
  const stats = [stat('total', 'Total'), stat('processed', 'Processed'), stat('emailed', 'Emailed'), stat('noEmail', 'No email'), stat('failed', 'Failed')];
  // The funnel: what became of the emails, one compact row of counts.
  const funnelCells = FUNNEL.map(([key, label]) => {
    const dd = h('dd', { id: `task-funnel-${key}`, class: 'num', text: '—' });
    return { key, dd, el: h('div', { class: 'funnel-step' }, h('dt', { text: label }), dd) };
  });
  const funnel = h('dl', { class: 'funnel', id: 'task-funnel', 'aria-label': 'What became of the emails', hidden: true }, funnelCells.map((c) => c.el));
  const parentLine = h('p', { class: 'muted', id: 'task-parent', hidden: true });
  const cancel = h('button', { type: 'button', id: 'task-cancel', class: 'button danger', text: 'Cancel task', hidden: true });
  const alert = h('div', { class: 'alert', role: 'alert', id: 'task-error' });
  // Always present (so nothing moves when the first user without email is
  // reached); it turns into a warning with the count when there are some.
  const noEmailNote = h('p', { class: 'note', id: 'task-no-email-note' });
  // Password deliveries email no password, only a notice that it changed.
  const noticeNote = h('p', { class: 'note', id: 'task-notice-note', hidden: true });
  const csv = h('a', { id: 'task-csv', class: 'button', href: `${path}/results.csv`, download: `rekey-task-${id}.csv` }, 'Download results (CSV)');
  const letters = h('a', { id: 'task-letters', class: 'button', href: `${path}/letters.pdf`, download: `rekey-letters-${id}.pdf`, hidden: true }, 'Print login letters (PDF)');
  const csvNote = h('p', { class: 'hint', id: 'task-csv-note', text: 'The file lists every user with their outcome, for a mail merge or for telling users without email. If this task generated passwords, they are in the file for 24 hours after the task was created, and only for you. Keep it safe.' });
  const followUpButtons = FOLLOW_UPS.map((f) => {
    const b = h('button', { type: 'button', class: 'button', id: `task-follow-up-${f.action}`, text: f.label });
    b.addEventListener('click', () => followUp(f, b));
    return b;
  });
  const followUpAlert = h('div', { class: 'alert', role: 'alert', id: 'task-follow-up-error' });
  const followUpSection = h(
    'section',
    { class: 'card', 'aria-labelledby': 'task-follow-ups-title', id: 'task-follow-ups', hidden: true },
    h('h2', { id: 'task-follow-ups-title', text: 'Follow up' }),
    h('p', { class: 'hint', text: 'Each follow-up is a new task for some of this task’s users, linked back to this one.' }),
    followUpAlert,
    h('div', { class: 'actions follow-up-actions' }, followUpButtons),
  );
  const stateFilter = h(
    'select',
    { id: 'task-results-state', name: 'state' },
    h('option', { value: '', text: 'All users' }),
    h('option', { value: 'unfinished', text: 'Unfinished (not completed)' }),
    Object.entries(RESULT_STATES).map(([value, s]) => h('option', { value, text: s.label })),
  );
  const stateFilterField = h('div', { class: 'field inline-field' }, h('label', { for: 'task-results-state', text: 'Show' }), stateFilter);
  const resultsBody = h('tbody');
  let resultsWrap = null;
  const resultsTable = h(
    'table',
    { class: 'data-table', id: 'task-results' },
    h('caption', { class: 'visually-hidden', text: 'Result for each user' }),
    h('thead', {}, h('tr', {}, ...['Name', 'Username', 'School', 'State', 'Attempts', 'Details'].map((c) => h('th', { scope: 'col', text: c })))),
    resultsBody,
  );
  // An import's rows: the table above is swapped for this one on the
  // first draw of a task of kind import.
  const importBody = h('tbody');
  const importTable = h(
    'table',
    { class: 'data-table', id: 'task-import-results' },
    h('caption', { class: 'visually-hidden', text: 'Result for each row of the imported files' }),
    h('thead', {}, h('tr', {}, ...['File', 'Row', 'Username', 'Outcome', 'Changes', 'Error'].map((c) => h('th', { scope: 'col', text: c })))),
    importBody,
  );
  const resultsStatus = h('p', { class: 'status-line', role: 'status', id: 'task-results-status' });
  const resultsMore = h('button', { type: 'button', class: 'button', id: 'task-results-more', text: 'Show more results', hidden: true });
  const resultsSection = h(
    'section',
    { class: 'card', 'aria-labelledby': 'task-results-title', id: 'task-results-section' },
    h('div', { class: 'section-head' }, h('h2', { id: 'task-results-title', text: 'Results' }), h('div', { class: 'actions' }, csv, letters)),
    csvNote,
    stateFilterField,
    resultsStatus,
    (resultsWrap = h('div', { class: 'table-wrap' }, resultsTable)),
    resultsMore,
  );

  main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/tasks', id: 'task-back', text: '← Tasks' })),
    heading,
    started,
    parentLine,
    alert,
    h(
      'section',
      { class: 'card task-card', 'aria-labelledby': 'task-progress-label' },
      h('div', { class: 'section-head' }, h('h2', { id: 'task-progress-label', text: 'Progress' }), statusHolder),
      h('div', { class: 'progress-row' }, bar, pctText),
      h('dl', { class: 'stats', id: 'task-stats' }, stats.map((s) => s.el)),
      funnel,
      noEmailNote,
      noticeNote,
      h('div', { class: 'form-actions' }, cancel),
      announcer,
    ),
    followUpSection,
    resultsSection,
  );

  let resultsCursor = '';
  let resultsLoaded = false;
  let resultsSeq = 0; // a newer load (another filter) wins over an older one
  let schoolNames = new Map();
  let isImport = false;

  function draw(t) {
    if (t.kind === 'import' && !isImport) {
      isImport = true;
      resultsWrap.replaceChildren(importTable);
    }
    heading.textContent = taskTitle(t);
    ctx.setTitle(taskTitle(t));
    parentLine.hidden = !t.parentTaskId;
    if (t.parentTaskId) {
      clear(parentLine);
      parentLine.append('Follow-up of ', h('a', { href: `#/tasks/${encodeURIComponent(t.parentTaskId)}`, id: 'task-parent-link', text: 'an earlier task' }), '.');
    }
    funnel.hidden = !t.funnel || isImport;
    for (const c of funnelCells) c.dd.textContent = num(t.funnel?.[c.key]);
    clear(started);
    started.append('Started ', when(t.createdAt), t.finishedAt ? ' · finished ' : '', t.finishedAt ? when(t.finishedAt) : '');
    clear(statusHolder);
    statusHolder.append(badge(TASK_STATUS, t.status));
    bar.max = Math.max(1, Number(t.total) || 0);
    bar.value = Number(t.processed) || 0;
    if (!t.total && !ACTIVE.has(t.status)) bar.value = bar.max;
    if (t.status === 'queued' && !t.total) bar.removeAttribute('value'); // indeterminate until counted
    bar.setAttribute('aria-valuetext', `${num(t.processed)} of ${num(t.total)} processed`);
    pctText.textContent = `${percent(t)}%`;
    for (const s of stats) {
      s.dd.textContent = num(t[s.key]);
      // An import emails nobody.
      s.el.hidden = isImport && (s.key === 'emailed' || s.key === 'noEmail');
    }
    // Awaiting approval, it is rejected or withdrawn on the task list instead.
    cancel.hidden = !ACTIVE.has(t.status) || t.status === 'awaiting_approval';
    clear(noEmailNote);
    if (Number(t.noEmail) > 0) {
      noEmailNote.className = 'note callout';
      noEmailNote.append(icon('warning'), h('span', { text: `${num(t.noEmail)} ${Number(t.noEmail) === 1 ? 'user has' : 'users have'} no email address and must be told another way. They are listed in the results as “No email”.` }));
    } else {
      noEmailNote.className = 'note';
      noEmailNote.append(icon('info'), h('span', { text: 'Users without an email address are listed in the results as “No email”, to be told another way.' }));
    }
    noEmailNote.hidden = isImport;
    const passwords = PASSWORD_DELIVERIES.has(t.delivery?.mode);
    noticeNote.hidden = !passwords;
    if (passwords) {
      clear(noticeNote);
      noticeNote.append(icon('info'), h('span', { text: `${num(t.notified)} ${Number(t.notified) === 1 ? 'user was' : 'users were'} emailed that their password changed. The email never contains the password.` }));
    }
    if (t.status !== lastStatus) {
      if (lastStatus) announcer.textContent = `Task ${TASK_STATUS[t.status]?.label.toLowerCase() || t.status}: ${num(t.processed)} of ${num(t.total)} processed, ${num(t.failed)} failed.`;
      lastStatus = t.status;
    }
    const done = !ACTIVE.has(t.status);
    csv.hidden = !done || isImport;
    csvNote.hidden = !done || isImport;
    stateFilterField.hidden = !done || isImport;
    followUpSection.hidden = !done || isImport;
    // Letters: a card per user with the sign-in address and its QR code
    // (and the password of a generated task), for users without email.
    letters.hidden = !done || !passwords;
    if (done && !resultsLoaded) {
      resultsLoaded = true;
      loadResults();
    } else if (!done) {
      resultsStatus.textContent = isImport ? 'Results per row appear here when the import finishes.' : 'Results per user appear here when the task finishes.';
      resultsWrap.hidden = true;
    }
  }

  async function refresh() {
    try {
      const t = await api.get(path);
      if (disposed) return;
      setAlert(alert, '');
      draw(t);
      if (ACTIVE.has(t.status)) timer = setTimeout(refresh, POLL_MS);
    } catch (err) {
      if (disposed) return;
      setAlert(alert, describe(err));
      if (err.code === 'network' || err.status >= 500) timer = setTimeout(refresh, POLL_MS * 2);
    }
  }

  async function loadResults() {
    if (isImport) return loadImportResults();
    const seq = ++resultsSeq;
    resultsMore.disabled = true;
    resultsStatus.textContent = 'Loading results…';
    try {
      const state = stateFilter.value;
      const [page, schools] = await Promise.all([
        api.get(`${path}/results${api.query({ limit: 100, cursor: resultsCursor, state })}`),
        schoolNames.size ? null : api.schools().catch(() => []),
      ]);
      if (disposed || seq !== resultsSeq) return;
      if (schools) schoolNames = new Map(schools.map((s) => [s.id, s.name]));
      for (const r of page.items || []) {
        const name = [r.firstName, r.lastName].filter(Boolean).join(' ');
        resultsBody.append(
          h(
            'tr',
            { 'data-user-id': r.userId || '' },
            h('td', { 'data-label': 'Name', text: name || '—' }),
            r.username
              ? h('td', { 'data-label': 'Username', class: 'mono', text: r.username })
              : h('td', { 'data-label': 'Username', class: 'muted', text: 'No longer in your scope' }),
            h('td', { 'data-label': 'School', text: r.schoolId ? schoolNames.get(r.schoolId) || r.schoolId : '—' }),
            // Results from before states carry only their outcome.
            h('td', { 'data-label': 'State' }, r.state ? badge(RESULT_STATES, r.state) : badge(OUTCOMES, r.outcome)),
            h('td', { 'data-label': 'Attempts', class: 'num', text: num(r.attempts) }),
            h('td', { 'data-label': 'Details', text: r.error || '' }),
          ),
        );
      }
      resultsCursor = page.nextCursor || '';
      resultsMore.hidden = !resultsCursor;
      const shown = resultsBody.children.length;
      resultsWrap.hidden = shown === 0;
      resultsStatus.textContent = shown
        ? `${num(shown)} ${shown === 1 ? 'result' : 'results'} shown${resultsCursor ? '' : ' (all)'}.`
        : state
          ? 'No user of this task is in that state.'
          : 'No per-user results for this task.';
    } catch (err) {
      if (disposed || seq !== resultsSeq) return;
      resultsStatus.textContent = describe(err);
    } finally {
      if (seq === resultsSeq) resultsMore.disabled = false;
    }
  }
  /** loadImportResults appends the next page (one chunk of rows) of an import's results. */
  async function loadImportResults() {
    const seq = ++resultsSeq;
    resultsMore.disabled = true;
    resultsStatus.textContent = 'Loading results…';
    try {
      const page = await api.get(`/api/imports/${encodeURIComponent(id)}/results${api.query({ cursor: resultsCursor })}`);
      if (disposed || seq !== resultsSeq) return;
      for (const r of page.results || []) {
        const changes = r.fields?.length ? h('ul', { class: 'plain-list' }, r.fields.map((f) => h('li', { text: f }))) : '—';
        importBody.append(
          h(
            'tr',
            { 'data-row': `${r.file}:${r.row}`, 'data-user-id': r.userId || '' },
            h('td', { 'data-label': 'File', class: 'mono', text: r.file || '—' }),
            h('td', { 'data-label': 'Row', class: 'num', text: num(r.row) }),
            h('td', { 'data-label': 'Username', class: r.username ? 'mono' : 'muted', text: r.username || '—' }),
            h('td', { 'data-label': 'Outcome' }, badge(IMPORT_OUTCOMES, r.outcome)),
            h('td', { 'data-label': 'Changes' }, changes),
            h('td', { 'data-label': 'Error', text: r.error || '' }),
          ),
        );
      }
      resultsCursor = page.nextCursor || '';
      resultsMore.hidden = !resultsCursor;
      const shown = importBody.children.length;
      resultsWrap.hidden = shown === 0;
      resultsStatus.textContent = shown
        ? `${num(shown)} ${shown === 1 ? 'row' : 'rows'} shown${resultsCursor ? '' : ' (all)'}.`
        : 'No per-row results for this import.';
    } catch (err) {
      if (disposed || seq !== resultsSeq) return;
      resultsStatus.textContent = describe(err);
    } finally {
      if (seq === resultsSeq) resultsMore.disabled = false;
    }
  }
  resultsMore.addEventListener('click', loadResults);
  stateFilter.addEventListener('change', () => {
    // A new filter starts from the first page.
    resultsCursor = '';
    clear(resultsBody);
    loadResults();
  });

  async function followUp(f, button) {
    const ok = await confirmDialog({ title: `${f.label}?`, message: f.confirm, confirmLabel: f.label, cancelLabel: 'Not now' });
    if (!ok || disposed) return;
    setAlert(followUpAlert, '');
    for (const b of followUpButtons) b.disabled = true;
    try {
      const res = await api.post(`${path}/follow-ups`, { action: f.action });
      if (disposed) return;
      const left = Number(res?.leftOut) || 0;
      ctx.toast(
        left
          ? `Follow-up started. ${num(left)} ${left === 1 ? 'user was' : 'users were'} left out because their address bounced or reported spam.`
          : 'Follow-up started. No address was left out for bouncing or reporting spam.',
        'info',
      );
      location.hash = `#/tasks/${encodeURIComponent(res.taskId)}`;
    } catch (err) {
      if (disposed) return;
      setAlert(followUpAlert, describe(err), { kind: err.code === 'nothing_to_follow_up' ? 'info' : 'error' });
    } finally {
      for (const b of followUpButtons) b.disabled = false;
    }
  }

  cancel.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Cancel this task?',
      message: 'Users already reset stay reset. Users not reached yet keep their passwords.',
      confirmLabel: 'Cancel task',
      cancelLabel: 'Keep running',
      danger: true,
    });
    if (!ok || disposed) return;
    cancel.disabled = true;
    try {
      const t = await api.post(`${path}/cancel`);
      if (disposed) return;
      if (t) draw(t);
      ctx.toast('The task is being cancelled.', 'info');
    } catch (err) {
      setAlert(alert, describe(err));
    } finally {
      cancel.disabled = false;
    }
  });

  refresh();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}
