// The "current + new password" form, used by the forced change after a
// temporary password (signin.js) and by My account (account.js).

import { h } from './dom.js';
import * as api from './api.js';
import { passwordField, alertBox, setAlert, setFieldError, clearErrors, showError, busy } from './form.js';
import { describe } from './errors.js';
import { ROLE_RANK } from './format.js';

/**
 * changePasswordForm builds the "current + new password" form used by the
 * forced change and by My account. onChanged runs after the server accepted
 * the change (which ends every session of the user).
 */
export function changePasswordForm({ idPrefix, user, submitLabel, onChanged }) {
  const alert = alertBox(`${idPrefix}-error`);
  const current = passwordField({ id: `${idPrefix}-current`, name: 'currentPassword', label: 'Current password', autocomplete: 'current-password' });
  const next = passwordField({ id: `${idPrefix}-new`, name: 'newPassword', label: 'New password', hint: 'Use a long passphrase: several words you will remember. Spaces are fine.' });
  const submit = h('button', { type: 'submit', id: `${idPrefix}-submit`, class: 'button primary', text: submitLabel });
  // A hidden username lets password managers file the new password under the right account.
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', hidden: true, readonly: true, tabindex: '-1', 'aria-hidden': 'true' });
  username.value = user?.username || '';
  const form = h('form', { id: `${idPrefix}-form`, novalidate: true }, username, alert, current, next, h('div', { class: 'form-actions' }, submit));

  api.passwordPolicy().then((policy) => {
    if (policy.guessed) return;
    const staff = (ROLE_RANK[user?.role] || 1) > 1;
    const min = staff ? policy.minLengthStaff : policy.minLengthStudent;
    const hint = document.getElementById(`${idPrefix}-new-hint`);
    if (hint) hint.textContent = `At least ${min} characters. A passphrase of several words is easiest to remember. Spaces are fine.`;
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    if (!current.control.value) {
      setFieldError(current.control, 'Enter your current password.');
      current.control.focus();
      return;
    }
    if (!next.control.value) {
      setFieldError(next.control, 'Enter a new password.');
      next.control.focus();
      return;
    }
    busy(submit, true, 'Saving…');
    try {
      await api.post('/api/password/change', { currentPassword: current.control.value, newPassword: next.control.value }, { quiet: true });
      onChanged();
    } catch (err) {
      busy(submit, false);
      if (err.code === 'invalid_credentials') {
        setFieldError(current.control, 'That is not your current password.');
        current.control.focus();
      } else if (err.code === 'weak_password' && !err.field) {
        setFieldError(next.control, describe(err));
        next.control.focus();
      } else if (err.status === 401) {
        setAlert(alert, describe({ code: 'unauthenticated' }));
      } else {
        showError(form, alert, err);
      }
    }
  });
  return form;
}
