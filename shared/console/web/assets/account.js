// My account: who is signed in, and a password change.

import { h } from './dom.js';
import { roleLabel, fullName } from './format.js';
import * as api from './api.js';
import { changePasswordForm } from './changepassword.js';

/** mount draws the account screen. */
export function mount(main, ctx) {
  const u = ctx.user;
  const details = h('dl', { class: 'details', id: 'account-details' });
  const row = (label, value) => details.append(h('div', {}, h('dt', { text: label }), h('dd', { text: value || '—' })));
  row('Name', fullName(u));
  row('Username', u.username);
  row('Email', u.email || 'No email address');
  row('Role', roleLabel(u.role));
  const schoolRow = h('dd', { text: u.schoolId ? '…' : 'Whole district' });
  details.append(h('div', {}, h('dt', { text: 'School' }), schoolRow));
  if (u.schoolId) {
    api.schools().then((list) => {
      const s = list.find((x) => x.id === u.schoolId);
      schoolRow.textContent = s ? s.name : u.schoolId;
    }, () => {
      schoolRow.textContent = u.schoolId;
    });
  }
  const form = changePasswordForm({
    idPrefix: 'account',
    user: u,
    submitLabel: 'Change password',
    onChanged: () => ctx.endSession('Your password was changed and you were signed out everywhere. Sign in again with your new password.', 'success'),
  });
  // A student's parent code, for a parent or guardian to sign up with.
  const parentCode = h('section', { class: 'card', id: 'account-parent-code', hidden: u.role !== 'student', 'aria-labelledby': 'account-code-title' });
  if (u.role === 'student') {
    parentCode.append(h('h2', { id: 'account-code-title', text: 'Parent code' }));
    api.get('/api/me/parent-code').then((c) => {
      parentCode.append(
        h('p', { text: 'Give this code to your parent or guardian. They sign up with it at the sign-up page; it works once.' }),
        h('p', {}, h('code', { id: 'account-code', class: 'password', text: c.code })),
        h('p', { class: 'muted', text: `Valid until ${new Date(c.expiresAt).toLocaleDateString()}.` }),
      );
    }, () => parentCode.append(h('p', { class: 'muted', text: 'The parent code could not be shown. Try again later.' })));
  }
  main.append(
    h('h1', { text: 'My account' }),
    h('section', { class: 'card', 'aria-labelledby': 'account-details-title' }, h('h2', { id: 'account-details-title', text: 'Your details' }), details),
    parentCode,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'account-password-title' },
      h('h2', { id: 'account-password-title', text: 'Change your password' }),
      h('p', { class: 'muted', text: 'Changing your password signs you out on every device.' }),
      form,
    ),
  );
}
