// The two public pages: forgot password and reset from an emailed link.
// Opening the reset link consumes nothing: only posting the form does.

import { h } from './dom.js';
import * as api from './api.js';
import { setAlert, setFieldError, clearErrors, showError, busy } from './form.js';
import { describe } from './errors.js';

const TOKEN_KEY = 'rekey.resetToken';

function forgotPage() {
  const form = document.getElementById('forgot-form');
  const input = document.getElementById('forgot-login');
  const alert = document.getElementById('forgot-error');
  const submit = document.getElementById('forgot-submit');
  const done = document.getElementById('forgot-done');
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    const login = input.value.trim();
    if (!login) {
      setFieldError(input, 'Enter your username or email address.');
      input.focus();
      return;
    }
    busy(submit, true, 'Sending…');
    try {
      await api.post('/api/password/forgot', { login }, { quiet: true });
      form.hidden = true;
      done.hidden = false;
      done.focus();
    } catch (err) {
      busy(submit, false);
      if (err.code === 'too_many_attempts' || err.status === 429) setAlert(alert, 'Too many requests. Wait a few minutes, then try again.');
      else showError(form, alert, err);
    }
  });
}

/** takeToken reads the token from the link and removes it from the address bar and history. */
function takeToken() {
  const params = new URLSearchParams(location.search);
  let token = params.get('token') || '';
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else token = sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    // Without storage the token lives only in this page.
  }
  if (params.has('token')) history.replaceState(null, '', location.pathname);
  return token;
}

function forgetToken() {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing stored.
  }
}

/**
 * checkToken asks whether the link still works, without using it: a link
 * that was used or has expired says so before anyone types a password.
 * Anything but a clear "no" (a network fault, a server error) shows the
 * form, whose submission then answers for the link.
 */
async function checkToken(token) {
  const checking = document.getElementById('newpw-checking');
  checking.hidden = false;
  try {
    await api.post('/api/password/reset/check', { token }, { quiet: true });
    return true;
  } catch (err) {
    return err.code !== 'invalid_token';
  } finally {
    checking.hidden = true;
  }
}

async function resetPage() {
  const token = takeToken();
  const form = document.getElementById('newpw-form');
  if (!token) {
    document.getElementById('newpw-missing').hidden = false;
    return;
  }
  if (!(await checkToken(token))) {
    forgetToken();
    document.getElementById('newpw-spent').hidden = false;
    document.getElementById('newpw-spent-new-link').focus();
    return;
  }
  form.hidden = false;
  const input = document.getElementById('newpw-password');
  const alert = document.getElementById('newpw-error');
  const submit = document.getElementById('newpw-submit');
  const show = document.getElementById('newpw-password-show');
  show.addEventListener('click', () => {
    const visible = input.type === 'password';
    input.type = visible ? 'text' : 'password';
    show.setAttribute('aria-pressed', String(visible));
    show.textContent = visible ? 'Hide' : 'Show';
  });
  input.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    if (!input.value) {
      setFieldError(input, 'Enter a new password.');
      input.focus();
      return;
    }
    busy(submit, true, 'Saving…');
    try {
      await api.post('/api/password/reset', { token, newPassword: input.value }, { quiet: true });
      forgetToken();
      form.hidden = true;
      document.getElementById('newpw-links').hidden = true;
      const done = document.getElementById('newpw-done');
      done.hidden = false;
      done.focus();
    } catch (err) {
      busy(submit, false);
      if (err.code === 'invalid_token') {
        forgetToken();
        setAlert(alert, describe(err), { extra: h('p', {}, h('a', { href: '/forgot-password', id: 'newpw-new-link', text: 'Ask for a new reset link' })) });
      } else if (err.code === 'weak_password' && !err.field) {
        setFieldError(input, describe(err));
        input.focus();
      } else {
        showError(form, alert, err);
      }
    }
  });
}

/** registerPage: a parent or guardian signs up with their child's parent code. */
function registerPage() {
  const form = document.getElementById('register-form');
  const alert = document.getElementById('register-error');
  const submit = document.getElementById('register-submit');
  const done = document.getElementById('register-done');
  form.elements.parentCode.focus();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    const body = {};
    for (const name of ['parentCode', 'firstName', 'lastName', 'email', 'username', 'password']) {
      body[name] = name === 'password' ? form.elements[name].value : form.elements[name].value.trim();
      if (!body[name]) {
        setFieldError(form.elements[name], 'This field is required.');
        form.elements[name].focus();
        return;
      }
    }
    busy(submit, true, 'Creating…');
    try {
      await api.post('/api/guardians/register', body, { quiet: true });
      form.hidden = true;
      done.hidden = false;
      done.focus();
    } catch (err) {
      busy(submit, false);
      if (err.code === 'too_many_attempts' || err.status === 429) setAlert(alert, 'Too many attempts. Wait a few minutes, then try again.');
      else showError(form, alert, err);
    }
  });
}

if (document.body.dataset.page === 'forgot') forgotPage();
else if (document.body.dataset.page === 'register') registerPage();
else if (document.body.dataset.page === 'reset') resetPage();
