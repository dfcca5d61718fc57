// A user's activity: the audit entries about them, newest first, with what
// changed shown as before → after text.

import { h, icon, visuallyHidden } from './dom.js';
import * as api from './api.js';
import { describe } from './errors.js';
import { setAlert } from './form.js';
import { ACTIONS, FIELD_LABELS, fullName, when, valueText } from './format.js';

/** changeList renders an entry's before/after maps as a list of changes. */
export function changeList(entry) {
  const before = entry.before || {};
  const after = entry.after || {};
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  // The server sends clientIp only to viewers who may see it.
  const detail = [entry.detail, entry.clientIp ? `from ${entry.clientIp}` : ''].filter(Boolean).join('; ');
  if (keys.length === 0) return detail ? h('span', { text: detail }) : h('span', { class: 'muted', text: '—' });
  const list = h('ul', { class: 'changes' });
  for (const k of keys) {
    list.append(
      h(
        'li',
        {},
        h('span', { class: 'change-field', text: `${FIELD_LABELS[k] || k}: ` }),
        k in before ? [visuallyHidden('from '), h('span', { class: 'change-before', text: valueText(before[k]) }), h('span', { class: 'change-arrow', 'aria-hidden': 'true', text: ' → ' }), visuallyHidden(' to ')] : null,
        h('span', { class: 'change-after', text: valueText(after[k]) }),
      ),
    );
  }
  if (detail) list.append(h('li', { class: 'muted', text: detail }));
  return list;
}

/** mount draws #/users/{id}/activity. */
export function mount(main, ctx) {
  const id = ctx.parts[1];
  let disposed = false;
  const heading = h('h1', { text: 'Activity' });
  const sub = h('p', { class: 'muted', id: 'activity-user' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'data-table', id: 'activity-table' },
    h('caption', { class: 'visually-hidden', text: 'Activity, newest first' }),
    h('thead', {}, h('tr', {}, ...['When', 'Who', 'Action', 'What changed'].map((c) => h('th', { scope: 'col', text: c })))),
    tbody,
  );
  const status = h('p', { class: 'status-line', role: 'status', id: 'activity-status' });
  const alert = h('div', { class: 'alert', role: 'alert', id: 'activity-error' });
  const more = h('button', { type: 'button', class: 'button', id: 'activity-more', text: 'Show older activity', hidden: true });
  const empty = h('div', { class: 'empty-state', id: 'activity-empty', hidden: true }, h('p', { class: 'empty-title', text: 'No activity recorded yet.' }), h('p', { text: 'Edits, resets and sign-in problems for this user will be listed here.' }));
  main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/users', id: 'activity-back', text: '← Users' })),
    heading,
    sub,
    alert,
    status,
    h('div', { class: 'table-wrap' }, table),
    empty,
    more,
  );
  let cursor = '';
  let count = 0;
  let subject = null;
  const OUTCOME_WORDS = { failure: 'Failed', denied: 'Denied' };
  const who = (e) => e.actorName || (e.actorId === id ? (subject ? `${fullName(subject)} (this user)` : 'This user') : e.actorId || 'System');

  api.get(`/api/users/${encodeURIComponent(id)}`).then(
    (u) => {
      if (disposed) return;
      subject = u;
      heading.textContent = `Activity of ${fullName(u)}`;
      sub.textContent = `Username ${u.username}`;
      ctx.setTitle(`Activity of ${fullName(u)}`);
    },
    () => {},
  );

  async function load() {
    more.disabled = true;
    status.textContent = 'Loading activity…';
    try {
      const page = await api.get(`/api/users/${encodeURIComponent(id)}/activity${api.query({ limit: 50, cursor })}`);
      if (disposed) return;
      const items = page.items || [];
      for (const e of items) {
        tbody.append(
          h(
            'tr',
            {},
            h('td', { 'data-label': 'When' }, when(e.at)),
            h('td', { 'data-label': 'Who', text: who(e) }),
            h(
              'td',
              { 'data-label': 'Action' },
              h('span', { text: ACTIONS[e.action] || e.action }),
              e.outcome && e.outcome !== 'success' ? [' ', h('span', { class: 'badge tone-warn' }, icon('warning'), h('span', { text: OUTCOME_WORDS[e.outcome] || e.outcome }))] : null,
            ),
            h('td', { 'data-label': 'What changed' }, changeList(e)),
          ),
        );
      }
      count += items.length;
      cursor = page.nextCursor || '';
      more.hidden = !cursor;
      empty.hidden = count > 0;
      table.parentElement.hidden = count === 0;
      status.textContent = count ? `${count} ${count === 1 ? 'entry' : 'entries'} shown${cursor ? '' : ' (all)'}.` : '';
    } catch (err) {
      if (disposed) return;
      setAlert(alert, describe(err));
      status.textContent = '';
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', load);
  load();
  return () => {
    disposed = true;
  };
}
