// My children (guardians): the students linked to this guardian, adding
// another with a parent code, and a temporary password for one of them
// (the child must choose a new one at next sign-in; the school sees it in
// the child's activity).

import { h, clear } from './dom.js';
import { fullName } from './format.js';
import * as api from './api.js';
import { setAlert, setFieldError, clearErrors, showError, busy } from './form.js';

/** mount draws the screen. */
export function mount(main) {
  const alert = h('div', { class: 'alert', role: 'alert', id: 'children-error' });
  const result = h('div', { id: 'children-result', role: 'status' });
  const body = h('tbody', { id: 'children-rows' });
  const table = h(
    'table',
    { class: 'data-table', id: 'children-table' },
    h('caption', { class: 'visually-hidden', text: 'Your children' }),
    h('thead', {}, h('tr', {}, ...['Name', 'Username', 'Grade', ''].map((c) => h('th', { scope: 'col', text: c })))),
    body,
  );
  const codeInput = h('input', { id: 'child-code', name: 'parentCode', type: 'text', autocomplete: 'off', placeholder: 'XXXX-XXXX-XXXX' });
  const addButton = h('button', { type: 'submit', id: 'child-add', class: 'button', text: 'Add child' });
  const addAlert = h('div', { class: 'alert', role: 'alert', id: 'child-add-error' });
  const addForm = h(
    'form',
    { id: 'child-add-form', novalidate: true },
    addAlert,
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'child-code', text: 'Parent code' }), codeInput, h('p', { class: 'field-error', hidden: true })),
    addButton,
  );

  async function load() {
    clear(body);
    try {
      const { items } = await api.get('/api/me/children');
      if (!items.length) body.append(h('tr', {}, h('td', { colspan: 4, text: 'No child is linked to your account yet. Add one with a parent code.' })));
      for (const c of items) {
        const reset = h('button', { type: 'button', class: 'button', id: `child-reset-${c.id}`, text: 'Set a temporary password' });
        reset.addEventListener('click', () => resetChild(c, reset));
        body.append(h('tr', {}, h('td', { text: fullName(c) }), h('td', { text: c.username }), h('td', { text: c.grade || '—' }), h('td', {}, reset)));
      }
    } catch (err) {
      setAlert(alert, err.message);
    }
  }

  async function resetChild(child, button) {
    clear(result);
    busy(button, true, 'Setting…');
    try {
      const res = await api.post(`/api/me/children/${encodeURIComponent(child.id)}/password-reset`, { mode: 'temporary' });
      result.append(
        h('div', { class: 'alert alert-success' }, h('div', {},
          h('p', { text: `${fullName(child)} can now sign in with this temporary password, then must choose a new one:` }),
          h('p', {}, h('code', { id: 'child-temporary-password', class: 'password', text: res.temporaryPassword })),
          h('p', { text: 'It is shown only now. The school can see that you set it.' }))),
      );
    } catch (err) {
      setAlert(alert, err.message);
    } finally {
      busy(button, false);
    }
  }

  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(addForm, addAlert);
    const parentCode = codeInput.value.trim();
    if (!parentCode) {
      setFieldError(codeInput, 'Enter the parent code.');
      codeInput.focus();
      return;
    }
    busy(addButton, true, 'Adding…');
    try {
      await api.post('/api/me/children', { parentCode });
      codeInput.value = '';
      await load();
    } catch (err) {
      showError(addForm, addAlert, err);
    } finally {
      busy(addButton, false);
    }
  });

  main.append(
    h('h1', { text: 'My children' }),
    alert,
    h('section', { class: 'card', 'aria-labelledby': 'children-title' }, h('h2', { id: 'children-title', text: 'Your children' }), table, result),
    h('section', { class: 'card', 'aria-labelledby': 'child-add-title' }, h('h2', { id: 'child-add-title', text: 'Add a child' }),
      h('p', { class: 'muted', text: 'Each child has their own parent code, on their account page or from the school.' }), addForm),
  );
  load();
}
