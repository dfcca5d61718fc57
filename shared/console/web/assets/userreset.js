// Resetting one user's password: by emailed link, or with a temporary
// password the admin types or Rekey generates (shown once).

import { h, clear, icon, toast } from './dom.js';
import * as api from './api.js';
import { openDialog } from './dialog.js';
import { radios, passwordField, alertBox, setAlert, setFieldError, clearErrors, showError, busy } from './form.js';
import { describe } from './errors.js';
import { fullName, shortTime } from './format.js';

/** openResetDialog asks how to reset u's password and does it. */
export function openResetDialog(u, { onDone } = {}) {
  const name = fullName(u);
  const hasEmail = !!u.email;
  const alert = alertBox('reset-alert');
  const tempKind = radios({
    idPrefix: 'reset-temp',
    name: 'tempKind',
    legend: 'Temporary password',
    value: 'generate',
    options: [
      { value: 'generate', label: 'Generate one for me', hint: 'Shown once, after the reset.' },
      { value: 'typed', label: 'Type one' },
    ],
  });
  const typed = passwordField({ id: 'reset-temp-password', name: 'temporaryPassword', label: 'Temporary password', autocomplete: 'new-password', hint: 'It must meet your district’s password policy.' });
  const tempBox = h('div', { class: 'subfields', id: 'reset-temp-options' }, tempKind, typed);
  const mode = radios({
    idPrefix: 'reset-mode',
    name: 'mode',
    legend: 'How should the user get a new password?',
    value: hasEmail ? 'link' : 'temporary',
    options: [
      {
        value: 'link',
        label: 'Email a reset link',
        hint: hasEmail ? `Sent to ${u.email}. The link works once and expires after 15 minutes.` : 'Not available: this user has no email address.',
        disabled: !hasEmail,
      },
      { value: 'temporary', label: 'Set a temporary password', hint: 'No email is sent. The user must choose a new password when they next sign in.', extra: tempBox },
    ],
  });
  const warning = h('p', { class: 'callout', id: 'reset-warning' }, icon('warning'), h('span', { text: 'Their current password stops working at once and they are signed out everywhere.' }));
  const submit = h('button', { type: 'submit', id: 'reset-submit', class: 'button danger', text: 'Reset password' });
  const cancel = h('button', { type: 'button', id: 'reset-cancel', class: 'button', text: 'Cancel' });
  const form = h('form', { id: 'reset-form', novalidate: true }, alert, mode, warning, h('div', { class: 'dialog-actions' }, cancel, submit));
  const holder = h('div', {}, form);
  const dialog = openDialog({ id: 'reset-dialog', title: `Reset password for ${name}`, content: holder, initialFocus: () => form.querySelector('input[name=mode]:checked') });
  cancel.addEventListener('click', () => dialog.close('cancel'));

  const sync = () => {
    const temporary = mode.value() === 'temporary';
    tempBox.hidden = !temporary;
    typed.hidden = !(temporary && tempKind.value() === 'typed');
  };
  mode.addEventListener('change', sync);
  tempKind.addEventListener('change', () => {
    sync();
    if (tempKind.value() === 'typed') typed.control.focus();
  });
  sync();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    const body = { mode: mode.value() };
    if (body.mode === 'temporary' && tempKind.value() === 'typed') {
      if (!typed.control.value) {
        setFieldError(typed.control, 'Type a temporary password, or choose “Generate one for me”.');
        typed.control.focus();
        return;
      }
      body.temporaryPassword = typed.control.value;
    }
    busy(submit, true, 'Resetting…');
    try {
      const res = await api.post(`/api/users/${encodeURIComponent(u.id)}/password-reset`, body);
      showResult(res || {}, body);
      if (onDone) onDone();
    } catch (err) {
      busy(submit, false);
      if (err.code === 'weak_password' && (!err.field || err.field === 'temporaryPassword' || err.field === 'password')) {
        setFieldError(typed.control, describe(err));
        typed.control.focus();
      } else {
        showError(form, alert, err);
      }
    }
  });

  function showResult(res, body) {
    clear(holder);
    const done = h('button', { type: 'button', id: 'reset-done', class: 'button primary', text: 'Done' });
    done.addEventListener('click', () => dialog.close('done'));
    if (body.mode === 'link') {
      const until = res.expiresAt ? ` It works until ${shortTime(res.expiresAt)}.` : '';
      holder.append(
        h('div', { class: 'alert alert-success', role: 'status', id: 'reset-result' }, icon('mail'), h('p', { text: `A reset link was emailed to ${u.email}.${until}` })),
        h('p', { text: 'If it does not arrive, check the spam folder, or use “Resend reset email” from the user’s menu.' }),
        h('div', { class: 'dialog-actions' }, done),
      );
    } else if (res.temporaryPassword) {
      const out = h('input', { type: 'text', id: 'reset-generated-password', class: 'mono secret', readonly: true, 'aria-describedby': 'reset-generated-hint', spellcheck: 'false' });
      out.value = res.temporaryPassword;
      const copy = h('button', { type: 'button', id: 'reset-copy', class: 'button' }, icon('copy'), h('span', { text: 'Copy' }));
      const copied = h('span', { class: 'copy-status', role: 'status', id: 'reset-copy-status' });
      copy.addEventListener('click', async () => {
        copied.textContent = (await copyText(out)) ? 'Copied.' : 'Select the password and copy it.';
      });
      holder.append(
        h('div', { class: 'alert alert-success', role: 'status', id: 'reset-result' }, icon('check'), h('p', { text: `Temporary password set for ${name}.` })),
        h('label', { for: 'reset-generated-password', class: 'field-label', text: 'Temporary password' }),
        h('div', { class: 'input-with-button' }, out, copy),
        copied,
        h('p', { id: 'reset-generated-hint', class: 'hint', text: 'This is the only time it is shown. Give it to the user in person or by another safe channel; they must change it at next sign-in.' }),
        h('div', { class: 'dialog-actions' }, done),
      );
      out.focus();
      out.select();
      return;
    } else {
      holder.append(
        h('div', { class: 'alert alert-success', role: 'status', id: 'reset-result' }, icon('check'), h('p', { text: `Temporary password set for ${name}. They must choose a new one when they next sign in.` })),
        h('div', { class: 'dialog-actions' }, done),
      );
    }
    done.focus();
  }
  return dialog;
}

/** copyText copies an input's value to the clipboard; it reports success. */
async function copyText(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.focus();
    input.select();
    return false;
  }
}

/** resendEmail issues a new reset link for u (voiding the previous one). */
export async function resendEmail(u) {
  try {
    const res = await api.post(`/api/users/${encodeURIComponent(u.id)}/password-reset/resend`);
    const until = res && res.expiresAt ? ` It works until ${shortTime(res.expiresAt)}.` : '';
    toast(`A new reset link was emailed to ${fullName(u)}; the previous link no longer works.${until}`, 'success');
  } catch (err) {
    toast(describe(err), 'error');
  }
}
