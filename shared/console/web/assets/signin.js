// Sign-in and the forced password change that follows a temporary password.

import { h, clear } from './dom.js';
import * as api from './api.js';
import { field, passwordField, alertBox, setAlert, setFieldError, clearErrors, showError, busy } from './form.js';
import { describe } from './errors.js';
import { changePasswordForm } from './changepassword.js';

function publicFrame(root, ...content) {
  clear(root);
  const skip = document.querySelector('.skip-link');
  if (skip) skip.hidden = false;
  const main = h('main', { id: 'main', class: 'public-main', tabindex: '-1' }, h('p', { class: 'brand public-brand', text: 'Rekey' }), h('div', { class: 'card narrow' }, ...content));
  root.append(main);
  return main;
}

/**
 * renderSignIn draws the sign-in screen. notice ({text, kind}) is shown
 * above the form, e.g. after sign-out or a password change.
 */
export function renderSignIn(root, { notice, onSignedIn }) {
  const alert = alertBox('signin-error');
  const noticeBox = h('div', { id: 'signin-notice', class: 'alert', role: 'status' });
  const username = field({ id: 'signin-username', name: 'username', label: 'Username or email', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = passwordField({ id: 'signin-password', name: 'password', label: 'Password', autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', id: 'signin-submit', class: 'button primary wide', text: 'Sign in' });
  const form = h(
    'form',
    { id: 'signin-form', novalidate: true, 'aria-labelledby': 'signin-title' },
    alert,
    username,
    password,
    submit,
    h('p', { class: 'form-links' }, h('a', { id: 'forgot-link', href: '/forgot-password', text: 'Forgot your password?' })),
  );
  publicFrame(root, h('h1', { id: 'signin-title', text: 'Sign in' }), noticeBox, form);
  if (notice) setAlert(noticeBox, notice.text || String(notice), { kind: notice.kind || 'info' });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    const u = username.control.value.trim();
    const p = password.control.value;
    let bad = false;
    if (!p) {
      setFieldError(password.control, 'Enter your password.');
      password.control.focus();
      bad = true;
    }
    if (!u) {
      setFieldError(username.control, 'Enter your username or email.');
      username.control.focus();
      bad = true;
    }
    if (bad) return;
    busy(submit, true, 'Signing in…');
    try {
      const result = await api.post('/api/auth/login', { username: u, password: p }, { quiet: true });
      // The response also carries a bearer token for API clients; the
      // console relies on the HttpOnly cookie and never keeps it.
      onSignedIn({ csrfToken: result.csrfToken, mustChangePassword: result.mustChangePassword, user: result.user });
    } catch (err) {
      busy(submit, false);
      if (err.code === 'password_reset_required') {
        setAlert(alert, describe(err), { extra: h('p', {}, h('a', { href: '/forgot-password', text: 'Get a new reset link' })) });
      } else if (err.code === 'invalid_credentials' || err.status === 401) {
        setAlert(alert, describe({ code: 'invalid_credentials' }));
        password.control.value = '';
        password.control.focus();
      } else {
        showError(form, alert, err);
      }
    }
  });
  username.control.focus();
}

/** renderForcedChange draws the screen shown while mustChangePassword is set. */
export function renderForcedChange(root, { user, onChanged, onSignOut }) {
  const signOut = h('button', { type: 'button', id: 'change-signout', class: 'button link', text: 'Sign out instead' });
  signOut.addEventListener('click', onSignOut);
  const form = changePasswordForm({ idPrefix: 'change', user, submitLabel: 'Change password', onChanged });
  publicFrame(
    root,
    h('h1', { id: 'change-title', text: 'Choose a new password' }),
    h('p', { text: 'Your password was set by an administrator. Choose your own before you continue. You will then sign in again with the new password.' }),
    form,
    h('p', { class: 'form-links' }, signOut),
  );
  document.getElementById('change-current').focus();
}
