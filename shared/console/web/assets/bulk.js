// Bulk password reset: who (four filters, optional narrowing by school,
// role and grade) and how (three deliveries), a confirmation naming how
// many users, then the task centre. The "who" and "how" parts come from
// bulkform.js, which the schedule form uses too.

import { h, icon } from './dom.js';
import * as api from './api.js';
import { confirmDialog } from './dialog.js';
import { alertBox, setAlert, setFieldError, clearErrors, showError, busy } from './form.js';
import { describe } from './errors.js';
import { num } from './format.js';
import { selectedCount, COUNT_CAP } from './selection.js';
import { buildWho, buildHow } from './bulkform.js';

/** mount draws the bulk reset screen. */
export function mount(main, ctx) {
  let disposed = false;
  const fromSelection = ctx.query.get('from') === 'selection' && selectedCount() > 0;
  const who = buildWho('bulk', { rank: ctx.rank, initialMode: fromSelection ? 'selected' : 'all' });
  const how = buildHow('bulk', { studentsOnly: () => who.studentsOnly() });
  who.onChange(() => {
    how.refresh();
    idempotencyKey = '';
  });
  const alert = alertBox('bulk-error');
  const review = h('button', { type: 'submit', id: 'bulk-review', class: 'button primary', text: 'Review and reset…' });
  const form = h(
    'form',
    { id: 'bulk-form', novalidate: true, class: 'bulk-form' },
    alert,
    h('section', { class: 'card', 'aria-labelledby': 'bulk-who-title' }, h('h2', { id: 'bulk-who-title', text: '1. Choose the users' }), who.el),
    h('section', { class: 'card', 'aria-labelledby': 'bulk-how-title' }, h('h2', { id: 'bulk-how-title', text: '2. Choose how' }), how.el),
    h('div', { class: 'form-actions' }, review),
  );
  main.append(
    h('h1', { text: 'Bulk password reset' }),
    h('p', { class: 'lead', text: 'Reset many passwords at once. The work runs in the background and you can follow it in Tasks.' }),
    form,
  );
  // One key per decision: a retried submission of the same choices returns
  // the original task instead of starting a second one.
  let idempotencyKey = '';
  form.addEventListener('input', () => {
    idempotencyKey = '';
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    if (!how.validate()) return;
    busy(review, true, 'Counting users…');
    let counted;
    let selectionPayload;
    try {
      counted = await who.count();
      selectionPayload = await who.payload();
    } catch (err) {
      busy(review, false);
      if (disposed) return;
      if (err.message === 'too_many_selected') setAlert(alert, 'That selection is too large to send as a list. Use “All users” with a school, role or grade instead.');
      else showError(form, alert, err);
      return;
    }
    busy(review, false);
    if (disposed) return;
    if (counted.count === 0) {
      setAlert(alert, 'No users match this choice. Change the filters and try again.');
      return;
    }
    const many = counted.exact ? num(counted.count) : counted.approx ? `about ${num(counted.count)}` : `more than ${num(Math.min(counted.count, COUNT_CAP))}`;
    const plural = counted.count === 1 && counted.exact ? 'password' : 'passwords';
    const details = h(
      'dl',
      { class: 'details compact', id: 'bulk-confirm-details' },
      h('div', {}, h('dt', { text: 'Users' }), h('dd', { text: who.summary() })),
      h('div', {}, h('dt', { text: 'Delivery' }), h('dd', { text: how.summary() })),
    );
    const warn = h('p', { class: 'callout' }, icon('warning'), h('span', { text: 'Each user’s current password stops working as soon as they are reset. This cannot be undone.' }));
    const ok = await confirmDialog({
      title: `Reset ${many} ${plural}?`,
      message: `Rekey will reset ${many} ${plural} in the background.`,
      details: h('div', {}, details, warn),
      confirmLabel: `Reset ${many} ${plural}`,
      danger: true,
    });
    if (!ok || disposed) return;
    if (!idempotencyKey) idempotencyKey = api.newIdempotencyKey();
    busy(review, true, 'Starting…');
    try {
      const res = await api.post('/api/bulk-resets', { selection: selectionPayload, delivery: how.payload() }, { headers: { 'Idempotency-Key': idempotencyKey } });
      if (disposed) return;
      ctx.toast('The bulk reset has started.', 'success');
      ctx.navigate(`#/tasks/${encodeURIComponent(res.taskId)}`);
    } catch (err) {
      busy(review, false);
      if (disposed) return;
      if (err.field === 'defaultPassword' || (err.code === 'weak_password' && !err.field)) {
        const c = document.getElementById('bulk-default-password');
        setFieldError(c, describe(err));
        c.focus();
      } else {
        showError(form, alert, err);
      }
    }
  });

  return () => {
    disposed = true;
  };
}
