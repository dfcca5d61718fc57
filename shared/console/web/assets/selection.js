// The users an admin has ticked on the Users screen, kept while they page,
// search and switch to the bulk reset screen; and counting the users a
// filter matches, for "Select all N matching" and the bulk confirmation.

import * as api from './api.js';

const listeners = new Set();

/**
 * selection.ids maps a user id to {name, username, role} for every ticked
 * user. selection.matching, when set, means "every user matching this
 * filter": {tab, roles, schoolId, grade, q, count, exact}.
 * selection.narrowing is the Users screen's school, role and grade when the
 * admin went on to the bulk screen ({schoolId, role, grade}), which "all
 * users except selected" keeps.
 */
export const selection = {
  ids: new Map(),
  matching: null,
  narrowing: null,
};

function changed() {
  for (const fn of listeners) fn();
}

/** onSelectionChange registers fn; it returns a function that unregisters it. */
export function onSelectionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function setSelected(user, on, info) {
  if (on) selection.ids.set(user.id, info);
  else selection.ids.delete(user.id);
  if (!on) selection.matching = null;
  changed();
}

/** setManySelected ticks or unticks several users at once: [{user, info}]. */
export function setManySelected(entries, on) {
  for (const { user, info } of entries) {
    if (on) selection.ids.set(user.id, info);
    else selection.ids.delete(user.id);
  }
  if (!on) selection.matching = null;
  changed();
}

export function selectMatching(matching) {
  selection.matching = matching;
  changed();
}

export function clearSelection() {
  selection.ids.clear();
  selection.matching = null;
  selection.narrowing = null;
  changed();
}

/** selectedCount is how many users the current selection stands for. */
export function selectedCount() {
  return selection.matching ? selection.matching.count : selection.ids.size;
}

/** COUNT_CAP bounds counting by paging when the API gives no total. */
export const COUNT_CAP = 10000;
const PAGE = 200;

/**
 * countUsers counts the users matching {roles, schoolId, grade, q}. It
 * uses the list's `total` field when the API sends one; otherwise it pages
 * through (200 a page) up to COUNT_CAP. It resolves {count, exact}.
 * onProgress(countSoFar) is called while paging; signal aborts.
 */
export async function countUsers({ roles, schoolId, grade, q }, { onProgress, signal } = {}) {
  let count = 0;
  for (const role of roles.length ? roles : ['']) {
    let cursor = '';
    for (;;) {
      if (signal && signal.aborted) throw new DOMException('aborted', 'AbortError');
      const page = await api.get(`/api/users${api.query({ role, schoolId, grade, q, limit: PAGE, cursor })}`);
      if (typeof page.total === 'number') {
        count += page.total;
        break;
      }
      count += (page.items || []).length;
      if (onProgress) onProgress(count);
      if (!page.nextCursor) break;
      if (count >= COUNT_CAP) return { count, exact: false };
      cursor = page.nextCursor;
    }
  }
  return { count, exact: true };
}

/**
 * matchingIds lists the ids of every user matching a filter, for selections
 * the bulk API cannot express as filters (a search, or several roles). It
 * stops at `cap` and reports whether it got them all.
 */
export async function matchingIds({ roles, schoolId, grade, q }, cap = 5000) {
  const ids = [];
  for (const role of roles.length ? roles : ['']) {
    let cursor = '';
    for (;;) {
      const page = await api.get(`/api/users${api.query({ role, schoolId, grade, q, limit: PAGE, cursor })}`);
      for (const u of page.items || []) ids.push(u.id);
      if (ids.length > cap) return { ids: ids.slice(0, cap), complete: false };
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
  }
  return { ids, complete: true };
}
