// Bulk resets waiting for a second person (status awaiting_approval): the
// Tasks screen lists them above the task table. Those who may approve a
// task see Approve and Reject; its creator sees that it waits, and may
// withdraw it. The API decides who may approve (never the creator:
// self_approval); the console only offers the buttons.

import { h, clear, icon } from './dom.js';
import * as api from './api.js';
import { confirmDialog } from './dialog.js';
import { describe } from './errors.js';
import { setAlert } from './form.js';
import { num, roleLabel, when, DELIVERY_LABELS, SELECTION_LABELS } from './format.js';

/** describeSelection says in words whom a task's selection reaches. */
export function describeSelection(sel, schoolNames) {
  if (!sel) return '';
  const parts = [SELECTION_LABELS[sel.mode] || sel.mode];
  if (sel.mode === 'selected' || sel.mode === 'all_except') parts.push(`${num((sel.userIds || []).length)} listed`);
  if (sel.schoolId) parts.push(`school: ${schoolNames.get(sel.schoolId) || sel.schoolId}`);
  if (sel.role) parts.push(`role: ${roleLabel(sel.role)}`);
  if (sel.grade) parts.push(`grade: ${sel.grade}`);
  return parts.join(' · ');
}

/**
 * buildApprovals returns { el, refresh(tasks) }: the list of the tasks
 * among `tasks` that await approval (hidden when none). onDecided(task) runs
 * after an approval or rejection with the task as it is now.
 */
export function buildApprovals(ctx, { onDecided }) {
  const list = h('ul', { class: 'approval-list', id: 'approvals-list' });
  const alert = h('div', { class: 'alert', role: 'alert', id: 'approvals-error' });
  const el = h(
    'section',
    { class: 'card approvals', id: 'approvals', 'aria-labelledby': 'approvals-title', hidden: true },
    h('h2', { id: 'approvals-title' }, icon('lock'), ' Waiting for approval'),
    h('p', { class: 'hint', text: 'These bulk resets reach more users than your district lets one person reset. They send nothing until another administrator approves them.' }),
    alert,
    list,
  );
  let schoolNames = new Map();

  async function decide(task, verb, button) {
    const approving = verb === 'approve';
    const ok = await confirmDialog({
      title: approving ? 'Approve this bulk reset?' : 'Reject this bulk reset?',
      message: approving
        ? 'It starts at once: each user’s current password stops working as they are reset.'
        : 'It ends as cancelled and resets nobody.',
      details: h('p', { text: `${describeSelection(task.selection, schoolNames)} · ${DELIVERY_LABELS[task.delivery?.mode] || ''}` }),
      confirmLabel: approving ? 'Approve and start' : 'Reject',
      danger: approving,
    });
    if (!ok) return;
    button.disabled = true;
    setAlert(alert, '');
    try {
      const now = await api.post(`/api/tasks/${encodeURIComponent(task.id)}/${verb}`, {});
      ctx.toast(approving ? 'Approved: the bulk reset has started.' : 'Rejected: the bulk reset was cancelled.', 'success');
      onDecided(now);
    } catch (err) {
      button.disabled = false;
      setAlert(alert, describe(err));
    }
  }

  function item(task) {
    const mine = task.createdBy === ctx.user.id;
    const actions = h('div', { class: 'approval-actions' });
    if (mine) {
      const withdraw = h('button', { type: 'button', class: 'button small', id: `reject-${task.id}`, text: 'Withdraw' });
      withdraw.addEventListener('click', () => decide(task, 'reject', withdraw));
      actions.append(h('span', { class: 'hint', text: 'You started it: another administrator must approve it.' }), withdraw);
    } else {
      const approve = h('button', { type: 'button', class: 'button primary small', id: `approve-${task.id}`, text: 'Approve' });
      const reject = h('button', { type: 'button', class: 'button small', id: `reject-${task.id}`, text: 'Reject' });
      approve.addEventListener('click', () => decide(task, 'approve', approve));
      reject.addEventListener('click', () => decide(task, 'reject', reject));
      actions.append(approve, reject);
    }
    const by = h('span', { class: 'approval-by', id: `approval-by-${task.id}`, text: mine ? 'you' : 'another user' });
    if (!mine) {
      api.get(`/api/users/${encodeURIComponent(task.createdBy)}`).then(
        (u) => {
          by.textContent = `${`${u.firstName || ''} ${u.lastName || ''}`.trim() || u.username} (${roleLabel(u.role)})`;
        },
        () => {},
      );
    }
    return h(
      'li',
      { class: 'approval', 'data-task-id': task.id },
      h('p', {}, h('strong', { text: describeSelection(task.selection, schoolNames) }), ` · ${DELIVERY_LABELS[task.delivery?.mode] || ''}`),
      h('p', { class: 'hint' }, 'Asked by ', by, ' · ', when(task.createdAt)),
      actions,
    );
  }

  return {
    el,
    async refresh(tasks) {
      const waiting = tasks.filter((t) => t.status === 'awaiting_approval');
      if (waiting.length) schoolNames = new Map((await api.schools().catch(() => [])).map((s) => [s.id, s.name]));
      clear(list);
      for (const t of waiting) list.append(item(t));
      el.hidden = waiting.length === 0;
    },
  };
}
