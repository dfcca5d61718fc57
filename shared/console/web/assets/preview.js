// The dry run of a bulk reset, as the review step shows it before the
// confirm button: how many users, by school and by role, who has no email
// address, who signs in through their school's single sign-on, and who is
// left out and why (POST /api/bulk-resets with dryRun: true).

import { h, icon } from './dom.js';
import * as api from './api.js';
import { num, roleLabel } from './format.js';

/** EXCLUSION_LABELS explains each reason a user is left out. */
export const EXCLUSION_LABELS = {
  self: 'You: your own password is never part of your bulk reset',
  disabled: 'Disabled accounts',
  not_allowed: 'Users you may not reset',
  not_found: 'Users that no longer exist',
};

/** fetchPreview asks the API what the reset would do; nothing is written. */
export function fetchPreview(selection, delivery) {
  return api.post('/api/bulk-resets', { selection, delivery, dryRun: true });
}

/** previewDetails draws a preview (the dry run's answer). */
export function previewDetails(p) {
  const rows = (pairs) => pairs.map(([label, value]) => h('tr', {}, h('th', { scope: 'row', text: label }), h('td', { class: 'num', text: num(value) })));
  const table = (id, caption, pairs) =>
    h('table', { class: 'data-table compact', id }, h('caption', { text: caption }), h('tbody', {}, ...rows(pairs)));
  const parts = [
    h('p', { class: 'preview-total', id: 'preview-total' }, h('strong', { text: num(p.total) }), ` ${p.total === 1 ? 'user' : 'users'} will be reset.`),
  ];
  const schools = (p.bySchool || []).map((s) => [s.schoolId ? s.name || s.schoolId : 'District staff (no school)', s.count]);
  const roles = Object.entries(p.byRole || {}).map(([r, n]) => [roleLabel(r), n]);
  parts.push(h('div', { class: 'preview-tables' }, table('preview-by-school', 'By school', schools), table('preview-by-role', 'By role', roles)));
  if (p.noEmail > 0) {
    parts.push(
      h('p', { class: 'callout', id: 'preview-no-email' }, icon('mail'), h('span', { text: `${num(p.noEmail)} of them have no email address: a reset link cannot reach them, so the task lists them for you to notify.` })),
    );
  }
  if (p.sso && p.sso.total > 0) {
    const names = p.sso.schools.map((s) => `${s.name} (${num(s.count)})`).join(', ');
    parts.push(
      h(
        'p',
        { class: 'callout', id: 'preview-sso' },
        icon('info'),
        h('span', {
          text:
            `${num(p.sso.total)} of them sign in with their school’s own sign-in: ${names}. A Rekey password is not what they use at school, so their password is not changed (they are listed as skipped)` +
            (p.sso.notice ? '; instead of a reset link they get an email pointing them to their school sign-in.' : '; they are sent nothing.'),
        }),
      ),
    );
  }
  if (p.excludedTotal > 0) {
    const byReason = new Map();
    for (const e of p.excluded || []) byReason.set(e.reason, (byReason.get(e.reason) || 0) + 1);
    const items = [...byReason].map(([reason, n]) => h('li', { text: `${EXCLUSION_LABELS[reason] || reason}: ${num(n)}` }));
    const listed = (p.excluded || []).length;
    if (p.excludedTotal > listed) items.push(h('li', { text: `and ${num(p.excludedTotal - listed)} more` }));
    parts.push(h('div', { id: 'preview-excluded' }, h('p', { text: `Left out (${num(p.excludedTotal)}):` }), h('ul', {}, ...items)));
  }
  if (p.needsApproval) {
    parts.push(
      h(
        'p',
        { class: 'callout callout-warn', id: 'preview-approval' },
        icon('lock'),
        h('span', { text: `This reaches more than ${num(p.approvalThreshold)} users, your district’s limit for one person: it will wait, sending nothing, until another administrator approves it on the Tasks screen.` }),
      ),
    );
  }
  return h('div', { class: 'preview', id: 'bulk-preview' }, ...parts);
}
