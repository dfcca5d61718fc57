// Users and groups: Students / Teachers / Admins tabs, search, school and
// grade filters, cursor pagination, multi-select with "select all
// matching", and each row's action menu.

import { h, clear, icon, debounce, visuallyHidden } from './dom.js';
import * as api from './api.js';
import { describe } from './errors.js';
import { setAlert } from './form.js';
import { badge, STATUS, userStatus, fullName, roleLabel, num } from './format.js';
import { menuButton } from './menu.js';
import { GRADES } from './grades.js';
import { selection, setSelected, setManySelected, selectMatching, clearSelection, onSelectionChange, selectedCount, countUsers } from './selection.js';

const PAGE_SIZE = 50;


/** emailText shows an address that may wrap only after the "@". */
function emailText(email) {
  const at = email.lastIndexOf('@');
  if (at < 0) return h('span', { class: 'email', text: email });
  return h('span', { class: 'email' }, email.slice(0, at + 1), h('wbr'), email.slice(at + 1));
}

/** tabsFor lists the tabs an actor of the given rank sees, with the roles each lists. */
export function tabsFor(rank) {
  const tabs = [{ key: 'students', label: 'Students', noun: 'students', one: 'student', roles: ['student'] }];
  if (rank >= 3) {
    tabs.push({ key: 'teachers', label: 'Teachers', noun: 'teachers', one: 'teacher', roles: ['teacher'] });
    tabs.push({ key: 'admins', label: 'Admins', noun: 'admins', one: 'admin', roles: rank >= 4 ? ['district_admin', 'school_admin'] : ['school_admin'] });
  }
  return tabs;
}

/** mount draws the Users screen. */
export function mount(main, ctx) {
  const tabs = tabsFor(ctx.rank);
  const state = {
    tab: tabs.find((t) => t.key === ctx.query.get('tab')) || tabs[0],
    q: ctx.query.get('q') || '',
    schoolId: ctx.query.get('school') || '',
    grade: ctx.query.get('grade') || '',
    stack: [{ i: 0, c: '' }], // cursor of every page visited; the last is the page shown
    next: null,
    rows: [],
    seq: 0,
    loading: false,
    schools: [],
  };
  let disposed = false;

  // ---- tabs
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Kinds of user' });
  const tabButtons = tabs.map((t) => {
    const b = h('button', { type: 'button', role: 'tab', id: `users-tab-${t.key}`, class: 'tab', 'aria-controls': 'users-panel', text: t.label });
    b.addEventListener('click', () => selectTab(t, true));
    tablist.append(b);
    return b;
  });
  tablist.addEventListener('keydown', (e) => {
    const i = tabButtons.indexOf(document.activeElement);
    if (i < 0) return;
    let j = null;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = tabs.length - 1;
    if (j === null) return;
    e.preventDefault();
    tabButtons[j].focus();
    selectTab(tabs[j], true);
  });

  // ---- filters
  const search = h('input', { type: 'search', id: 'users-search', name: 'q', autocomplete: 'off', spellcheck: 'false' });
  search.value = state.q;
  const schoolSelect = h('select', { id: 'users-school', name: 'schoolId' }, h('option', { value: '', text: 'All schools' }));
  const gradeSelect = h('select', { id: 'users-grade', name: 'grade' });
  const grades = GRADES.includes(state.grade) || !state.grade ? GRADES : [...GRADES, state.grade];
  gradeSelect.append(h('option', { value: '', text: 'All grades' }), ...grades.map((g) => h('option', { value: g, text: g === 'K' ? 'Kindergarten' : `Grade ${g}` })));
  gradeSelect.value = state.grade;
  const schoolField = h('div', { class: 'field inline', id: 'users-school-field' }, h('label', { for: 'users-school', text: 'School' }), schoolSelect);
  const gradeField = h('div', { class: 'field inline', id: 'users-grade-field' }, h('label', { for: 'users-grade', text: 'Grade' }), gradeSelect);
  const clearFilters = h('button', { type: 'button', id: 'users-clear-filters', class: 'button small', text: 'Clear filters' });
  const filters = h(
    'form',
    { class: 'filters', role: 'search', id: 'users-filters', 'aria-label': 'Find users' },
    h('div', { class: 'field inline grow' }, h('label', { for: 'users-search', text: 'Search by name, username or email' }), search),
    schoolField,
    gradeField,
    h('div', { class: 'filters-end' }, clearFilters),
  );

  // ---- selection bar and banner
  const selCount = h('span', { id: 'selection-count', class: 'selection-count' });
  const selClear = h('button', { type: 'button', id: 'selection-clear', class: 'button small', text: 'Clear selection' });
  const bulkButton = h('button', { type: 'button', id: 'bulk-reset-selected', class: 'button primary small', text: 'Reset passwords…' });
  // The "select all matching" offer lives inside the bar, whose height is
  // fixed, so ticking boxes never moves the table.
  const banner = h('span', { id: 'users-select-banner', class: 'banner' });
  const selectionBar = h(
    'div',
    { class: 'selection-bar', id: 'selection-bar', role: 'region', 'aria-label': 'Selected users' },
    h('p', { class: 'selection-info', 'aria-live': 'polite' }, selCount, banner),
    h('div', { class: 'selection-actions' }, selClear, bulkButton),
  );

  // ---- table
  const headCheckbox = h('input', { type: 'checkbox', id: 'users-select-page', 'aria-label': 'Select every user on this page' });
  const caption = h('caption', { class: 'visually-hidden' });
  const headRow = h('tr');
  const tbody = h('tbody');
  const table = h('table', { class: 'data-table users-table', id: 'users-table' }, caption, h('thead', {}, headRow), tbody);
  const status = h('p', { id: 'users-status', class: 'status-line', role: 'status' });
  const empty = h('div', { id: 'users-empty', class: 'empty-state', hidden: true });
  const alert = h('div', { id: 'users-error', class: 'alert', role: 'alert' });
  const prev = h('button', { type: 'button', id: 'users-prev', class: 'button', text: '← Previous' });
  const next = h('button', { type: 'button', id: 'users-next', class: 'button', text: 'Next →' });
  const pageLabel = h('span', { id: 'users-page', class: 'page-label' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, pageLabel, next);

  const panel = h('div', { id: 'users-panel', role: 'tabpanel', class: 'tab-panel' }, filters, selectionBar, alert, status, h('div', { class: 'table-wrap' }, table), empty, pager);
  const newUser = ctx.rank >= 3 ? h('button', { type: 'button', class: 'button primary', id: 'users-new', text: 'New user' }) : null;
  if (newUser) newUser.addEventListener('click', () => ctx.dialogs.openNewUser({ actor: ctx.user, rank: ctx.rank, onSaved: () => load() }));
  main.append(h('div', { class: 'page-head' }, h('h1', { text: 'Users' }), newUser), tablist, panel);

  // ---- behaviour
  const reloadSoon = debounce(() => {
    resetPages();
    load();
  }, 350);
  search.addEventListener('input', () => {
    state.q = search.value.trim();
    syncUrl();
    reloadSoon();
  });
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    state.q = search.value.trim();
    syncUrl();
    resetPages();
    load();
  });
  schoolSelect.addEventListener('change', () => {
    state.schoolId = schoolSelect.value;
    filterChanged();
  });
  gradeSelect.addEventListener('change', () => {
    state.grade = gradeSelect.value;
    filterChanged();
  });
  clearFilters.addEventListener('click', () => {
    state.q = '';
    state.schoolId = '';
    state.grade = '';
    search.value = '';
    schoolSelect.value = '';
    gradeSelect.value = '';
    filterChanged();
    search.focus();
  });
  prev.addEventListener('click', () => {
    if (state.stack.length > 1) {
      state.stack.pop();
      load(true);
    }
  });
  next.addEventListener('click', () => {
    if (state.next) {
      state.stack.push(state.next);
      load(true);
    }
  });
  headCheckbox.addEventListener('change', () => {
    setManySelected(
      state.rows.map((u) => ({ user: u, info: infoOf(u) })),
      headCheckbox.checked,
    );
  });
  selClear.addEventListener('click', () => {
    clearSelection();
    headCheckbox.focus();
  });
  bulkButton.addEventListener('click', () => {
    // "All users except selected" keeps the school, role and grade shown here.
    selection.narrowing = {
      schoolId: state.schoolId,
      role: state.tab.roles.length === 1 ? state.tab.roles[0] : '',
      grade: state.tab.key === 'students' ? state.grade : '',
    };
    ctx.navigate('#/bulk?from=selection');
  });

  const offSelection = onSelectionChange(renderSelection);

  function infoOf(u) {
    return { name: fullName(u), username: u.username, role: u.role };
  }

  function filterChanged() {
    selection.matching = null;
    syncUrl();
    resetPages();
    load();
  }

  function resetPages() {
    state.stack = [{ i: 0, c: '' }];
    state.next = null;
  }

  function syncUrl(push = false) {
    ctx.setQuery({ tab: state.tab.key, q: state.q, school: state.schoolId, grade: state.tab.key === 'students' ? state.grade : '' }, push);
  }

  function selectTab(t, push) {
    if (t === state.tab) return;
    state.tab = t;
    if (t.key !== 'students') state.grade = '';
    gradeSelect.value = state.grade;
    selection.matching = null;
    syncUrl(push);
    resetPages();
    drawTabs();
    load();
  }

  function drawTabs() {
    tabButtons.forEach((b, i) => {
      const on = tabs[i] === state.tab;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
    });
    panel.setAttribute('aria-labelledby', `users-tab-${state.tab.key}`);
    gradeField.hidden = state.tab.key !== 'students';
    drawHead();
  }

  function columns() {
    const cols = ['Name', 'Username', 'Email', 'School'];
    if (state.tab.key === 'students') cols.push('Grade');
    else if (state.tab.key === 'admins') cols.push('Role');
    else cols.push('Title');
    cols.push('Status');
    return cols;
  }

  function drawHead() {
    clear(headRow);
    headRow.append(h('th', { scope: 'col', class: 'col-select' }, headCheckbox));
    for (const c of columns()) headRow.append(h('th', { scope: 'col', text: c }));
    headRow.append(h('th', { scope: 'col', class: 'col-actions' }, visuallyHidden('Actions')));
  }

  function schoolName(id) {
    if (!id) return 'Whole district';
    const s = state.schools.find((x) => x.id === id);
    return s ? s.name : id;
  }

  async function fetchPage(cursor) {
    // One tab may list several roles (Admins): fill the page from each in turn.
    let at = { ...cursor };
    const items = [];
    for (;;) {
      const role = state.tab.roles[at.i];
      const res = await api.get(
        `/api/users${api.query({ role, q: state.q, schoolId: state.schoolId, grade: state.tab.key === 'students' ? state.grade : '', limit: PAGE_SIZE - items.length, cursor: at.c })}`,
      );
      items.push(...(res.items || []));
      let next = null;
      if (res.nextCursor) next = { i: at.i, c: res.nextCursor };
      else if (at.i + 1 < state.tab.roles.length) next = { i: at.i + 1, c: '' };
      if (next && !res.nextCursor && items.length < PAGE_SIZE) {
        at = next; // this role has no more: go on with the next one
        continue;
      }
      return { items, next };
    }
  }

  async function load(focusTable = false) {
    const seq = ++state.seq;
    state.loading = true;
    table.setAttribute('aria-busy', 'true');
    table.classList.add('loading');
    status.textContent = `Loading ${state.tab.noun}…`;
    prev.disabled = true;
    next.disabled = true;
    setAlert(alert, '');
    if (state.rows.length === 0) drawPlaceholder();
    try {
      const page = await fetchPage(state.stack[state.stack.length - 1]);
      if (seq !== state.seq || disposed) return;
      state.rows = page.items;
      state.next = page.next;
      drawRows();
      if (focusTable) {
        const first = tbody.querySelector('input, button');
        if (first) first.focus();
      }
    } catch (err) {
      if (seq !== state.seq || disposed) return;
      if (err.code === 'invalid_cursor' && state.stack.length > 1) {
        resetPages();
        load();
        return;
      }
      state.rows = [];
      state.next = null;
      drawRows();
      const retry = h('button', { type: 'button', class: 'button small', id: 'users-retry', text: 'Try again' });
      retry.addEventListener('click', () => load());
      setAlert(alert, describe(err), { extra: retry });
      status.textContent = '';
    } finally {
      if (seq === state.seq) {
        state.loading = false;
        table.removeAttribute('aria-busy');
        table.classList.remove('loading');
      }
    }
  }

  function drawPlaceholder() {
    clear(tbody);
    for (let i = 0; i < 5; i++) {
      tbody.append(h('tr', { class: 'placeholder-row', 'aria-hidden': 'true' }, h('td', { colspan: String(columns().length + 2) }, h('span', { class: 'skeleton' }))));
    }
  }

  function drawRows() {
    // Re-drawing replaces the rows: keep keyboard focus on the same control.
    const focusedId = tbody.contains(document.activeElement) ? document.activeElement.id : '';
    clear(tbody);
    const pageNo = state.stack.length;
    caption.textContent = `${state.tab.label}, page ${pageNo}`;
    for (const u of state.rows) tbody.append(row(u));
    const n = state.rows.length;
    status.textContent = n ? `Showing ${num(n)} ${n === 1 ? state.tab.one : state.tab.noun} on page ${pageNo}${state.next ? '' : ' (last page)'}.` : '';
    pageLabel.textContent = `Page ${pageNo}`;
    prev.disabled = state.stack.length <= 1;
    next.disabled = !state.next;
    pager.hidden = state.stack.length <= 1 && !state.next;
    drawEmpty();
    renderSelection();
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  function drawEmpty() {
    clear(empty);
    empty.hidden = state.rows.length > 0 || alert.textContent !== '';
    if (!empty.hidden) {
      const filtered = state.q || state.schoolId || state.grade;
      if (filtered) {
        const reset = h('button', { type: 'button', class: 'button', id: 'users-empty-clear', text: 'Clear search and filters' });
        reset.addEventListener('click', () => clearFilters.click());
        empty.append(
          h('p', { class: 'empty-title', text: state.q ? `No ${state.tab.noun} match “${state.q}”.` : `No ${state.tab.noun} match these filters.` }),
          h('p', { text: 'Check the spelling, search by username or email, or clear the filters.' }),
          reset,
        );
      } else {
        empty.append(h('p', { class: 'empty-title', text: `There are no ${state.tab.noun} to show.` }), h('p', { text: 'Users appear here once they are added to your district.' }));
      }
    }
  }

  function row(u) {
    const name = fullName(u);
    const cb = h('input', { type: 'checkbox', id: `select-${u.id}`, class: 'row-select', 'aria-label': `Select ${name}` });
    cb.checked = selection.ids.has(u.id) || !!selection.matching;
    cb.addEventListener('change', () => setSelected(u, cb.checked, infoOf(u)));
    const nameButton = h('button', { type: 'button', id: `name-${u.id}`, class: 'link-button', 'data-user-id': u.id, text: name });
    nameButton.addEventListener('click', () => openEditor(u));
    const actions = menuButton({
      id: `actions-${u.id}`,
      label: `Actions for ${name}`,
      items: [
        { id: 'row-menu-edit', label: 'Edit', onSelect: () => openEditor(u) },
        { id: 'row-menu-reset', label: 'Reset password…', onSelect: () => openReset(u) },
        u.email
          ? u.status === 'reset_required'
            ? { id: 'row-menu-resend', label: 'Resend reset email', onSelect: () => resend(u) }
            : { id: 'row-menu-resend', label: 'Resend reset email (no link waiting)', disabled: true, onSelect: () => {} }
          : null,
        { id: 'row-menu-activity', label: 'Activity', onSelect: () => ctx.navigate(`#/users/${encodeURIComponent(u.id)}/activity`) },
      ],
    });
    const cells = [
      ['Name', h('td', { class: 'cell-name', 'data-label': 'Name' }, nameButton)],
      ['Username', h('td', { 'data-label': 'Username', class: 'mono', text: u.username })],
      ['Email', h('td', { 'data-label': 'Email' }, u.email ? emailText(u.email) : h('span', { class: 'muted' }, icon('warning'), ' No email'))],
      ['School', h('td', { 'data-label': 'School', text: schoolName(u.schoolId) })],
    ];
    if (state.tab.key === 'students') cells.push(['Grade', h('td', { 'data-label': 'Grade', text: u.grade || '—' })]);
    else if (state.tab.key === 'admins') cells.push(['Role', h('td', { 'data-label': 'Role', text: roleLabel(u.role) })]);
    else cells.push(['Title', h('td', { 'data-label': 'Title', text: u.title || '—' })]);
    cells.push(['Status', h('td', { 'data-label': 'Status' }, badge(STATUS, userStatus(u)))]);
    const tr = h('tr', { 'data-user-id': u.id, class: cb.checked ? 'selected' : null }, h('td', { class: 'col-select' }, cb), ...cells.map((c) => c[1]), h('td', { class: 'col-actions' }, actions));
    return tr;
  }

  // The editor and the reset dialog are screens of their own: the shell
  // loads them (ctx.dialogs), so that this screen does not import them.
  function openEditor(u) {
    return ctx.dialogs.openEditor(u.id, { actor: ctx.user, rank: ctx.rank, onSaved: () => load() });
  }

  function openReset(u) {
    return ctx.dialogs.openResetDialog(u, { onDone: () => load() });
  }

  function resend(u) {
    return ctx.dialogs.resendEmail(u);
  }

  let counting = null;

  function renderSelection() {
    const n = selectedCount();
    const m = selection.matching;
    selCount.textContent = n === 0 ? 'No users selected.' : m ? `All ${num(n)}${m.exact ? '' : '+'} ${state.tab.noun} matching this search are selected.` : `${num(n)} selected.`;
    selClear.disabled = n === 0;
    bulkButton.disabled = n === 0;
    selectionBar.classList.toggle('has-selection', n > 0);
    // Row checkboxes and the header checkbox follow the selection.
    let onPage = 0;
    for (const u of state.rows) {
      const on = !!m || selection.ids.has(u.id);
      if (on) onPage++;
      const cb = document.getElementById(`select-${u.id}`);
      if (cb) {
        cb.checked = on;
        cb.closest('tr').classList.toggle('selected', on);
      }
    }
    headCheckbox.checked = state.rows.length > 0 && onPage === state.rows.length;
    headCheckbox.indeterminate = onPage > 0 && onPage < state.rows.length;
    headCheckbox.disabled = state.rows.length === 0;
    drawBanner(onPage);
  }

  function drawBanner(onPage) {
    clear(banner);
    const morePages = state.next || state.stack.length > 1;
    if (!selection.matching && onPage === state.rows.length && onPage > 0 && morePages) {
      const all = h('button', { type: 'button', class: 'link-button', id: 'users-select-all-matching', text: `Select all ${state.tab.noun} matching this search` });
      all.addEventListener('click', selectAllMatching);
      banner.append(' ', all);
    }
  }

  async function selectAllMatching(e) {
    const button = e.currentTarget;
    button.disabled = true;
    button.textContent = 'Counting…';
    if (counting) counting.abort();
    counting = new AbortController();
    const filter = { tab: state.tab.key, roles: state.tab.roles, schoolId: state.schoolId, grade: state.tab.key === 'students' ? state.grade : '', q: state.q };
    try {
      const { count, exact } = await countUsers(filter, {
        signal: counting.signal,
        onProgress: (c) => {
          button.textContent = `Counting… ${num(c)}`;
        },
      });
      if (disposed) return;
      selectMatching({ ...filter, count, exact });
      selClear.focus();
    } catch (err) {
      if (err.name === 'AbortError' || disposed) return;
      setAlert(alert, describe(err));
      renderSelection();
    }
  }

  // ---- start
  drawTabs();
  renderSelection();
  api
    .schools()
    .then((list) => {
      if (disposed) return;
      state.schools = list;
      for (const s of list) schoolSelect.append(h('option', { value: s.id, text: s.name }));
      schoolSelect.value = state.schoolId;
      // A school-scoped admin or teacher has one school: no need to choose.
      schoolField.hidden = list.length <= 1 && !state.schoolId;
      if (state.rows.length) drawRows();
    })
    .catch(() => {
      schoolField.hidden = true;
    });
  syncUrl();
  load();

  return () => {
    disposed = true;
    offSelection();
    if (counting) counting.abort();
  };
}
