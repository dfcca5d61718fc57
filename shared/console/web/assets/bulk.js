// Bulk password reset: who (four filters, optional narrowing by school,
// role and grade) and how (three deliveries), nothing chosen in advance;
// then the review: the dry run's preview (how many, by school and role,
// without email, SSO, left out) above the confirm button; then the task
// centre. The "who" and "how" parts come from bulkform.js, which the
// schedule form uses too.

import { h, icon } from './dom.js';
import * as api from './api.js';
import { confirmDialog } from './dialog.js';
import { alertBox, setAlert, setFieldError, clearErrors, showError, busy } from './form.js';
import { describe } from './errors.js';
import { num } from './format.js';
import { selectedCount } from './selection.js';
import { buildWho, buildHow } from './bulkform.js';
import { fetchPreview, previewDetails } from './preview.js';

/** mount draws the bulk reset screen. */
export function mount(main, ctx) {
  let disposed = false;
  const fromSelection = ctx.query.get('from') === 'selection' && selectedCount() > 0;
  // Nothing is chosen for the admin: only coming from the Users screen's
  // "Reset passwords…" for ticked users starts at "Selected users only".
  const who = buildWho('bulk', { rank: ctx.rank, initialMode: fromSelection ? 'selected' : '' });
  const how = buildHow('bulk', { studentsOnly: () => who.studentsOnly(), initial: '' });
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
    if (!who.mode()) {
      setAlert(alert, 'Choose whose passwords to reset.');
      who.focus();
      return;
    }
    if (!how.mode()) {
      setAlert(alert, 'Choose how they get a new password.');
      how.focus();
      return;
    }
    if (!how.validate()) return;
    busy(review, true, 'Checking who would be reset…');
    let preview;
    let selectionPayload;
    const delivery = how.payload();
    try {
      selectionPayload = await who.payload();
      preview = await fetchPreview(selectionPayload, delivery);
    } catch (err) {
      busy(review, false);
      if (disposed) return;
      if (err.message === 'too_many_selected') setAlert(alert, 'That selection is too large to send as a list. Use “All users” with a school, role or grade instead.');
      else showDeliveryError(err);
      return;
    }
    busy(review, false);
    if (disposed) return;
    if (preview.total === 0) {
      setAlert(alert, 'No users would be reset by this choice. Change the filters and try again.');
      alert.append(previewDetails(preview));
      return;
    }
    const many = num(preview.total);
    const plural = preview.total === 1 ? 'password' : 'passwords';
    const details = h(
      'dl',
      { class: 'details compact', id: 'bulk-confirm-details' },
      h('div', {}, h('dt', { text: 'Users' }), h('dd', { text: who.summary() })),
      h('div', {}, h('dt', { text: 'Delivery' }), h('dd', { text: how.summary() })),
    );
    const warn = h('p', { class: 'callout' }, icon('warning'), h('span', { text: 'Each user’s current password stops working as soon as they are reset. This cannot be undone.' }));
    const ok = await confirmDialog({
      title: `Reset ${many} ${plural}?`,
      message: preview.needsApproval ? `Rekey will ask another administrator to approve resetting ${many} ${plural}.` : `Rekey will reset ${many} ${plural} in the background.`,
      details: h('div', {}, previewDetails(preview), details, warn),
      confirmLabel: preview.needsApproval ? `Ask for approval to reset ${many} ${plural}` : `Reset ${many} ${plural}`,
      danger: true,
    });
    if (!ok || disposed) return;
    if (!idempotencyKey) idempotencyKey = api.newIdempotencyKey();
    busy(review, true, 'Starting…');
    try {
      const res = await api.post('/api/bulk-resets', { selection: selectionPayload, delivery }, { headers: { 'Idempotency-Key': idempotencyKey } });
      if (disposed) return;
      if (preview.needsApproval) ctx.toast('The bulk reset waits for another administrator’s approval. Nothing has been sent.', 'info');
      else ctx.toast('The bulk reset has started.', 'success');
      ctx.navigate(`#/tasks/${encodeURIComponent(res.taskId)}`);
    } catch (err) {
      busy(review, false);
      if (disposed) return;
      showDeliveryError(err);
    }
  });

  /** showDeliveryError puts a default password's problem by its field, others in the alert. */
  function showDeliveryError(err) {
    if (err.field === 'delivery.defaultPassword' || err.field === 'defaultPassword' || (err.code === 'weak_password' && !err.field)) {
      const c = document.getElementById('bulk-default-password');
      setFieldError(c, describe(err));
      c.focus();
    } else {
      showError(form, alert, err);
    }
  }

  return () => {
    disposed = true;
  };
}
