// Words and formats for values the API sends as codes.

import { h, icon } from './dom.js';

export const ROLE_LABELS = {
  student: 'Student',
  teacher: 'Teacher',
  school_admin: 'School admin',
  district_admin: 'District admin',
  support: 'Support',
  guardian: 'Guardian',
};

// A guardian is outside the hierarchy; for the shell they rank as a
// student (My account) and get their own screen (My children).
export const ROLE_RANK = { student: 1, teacher: 2, school_admin: 3, district_admin: 4, support: 5, guardian: 1 };

export const STATUS = {
  active: { label: 'Active', icon: 'check', tone: 'ok' },
  reset_required: { label: 'Reset pending', icon: 'clock', tone: 'warn' },
  disabled: { label: 'Disabled', icon: 'ban', tone: 'muted' },
  // Not an API status: an active user with mustChangePassword, after a
  // temporary, default or generated password, until they choose their own.
  must_change_password: { label: 'Must change password', icon: 'lock', tone: 'warn' },
};

/** userStatus is the status a user list shows: the API's, or must_change_password. */
export function userStatus(u) {
  return u.status === 'active' && u.mustChangePassword ? 'must_change_password' : u.status;
}

export const TASK_STATUS = {
  awaiting_approval: { label: 'Awaiting approval', icon: 'lock', tone: 'warn' },
  queued: { label: 'Queued', icon: 'clock', tone: 'muted' },
  running: { label: 'Running', icon: 'spinner', tone: 'info' },
  completed: { label: 'Completed', icon: 'check', tone: 'ok' },
  completed_with_errors: { label: 'Completed with errors', icon: 'warning', tone: 'warn' },
  cancelled: { label: 'Cancelled', icon: 'ban', tone: 'muted' },
  failed: { label: 'Failed', icon: 'cross', tone: 'bad' },
};

export const OUTCOMES = {
  emailed: { label: 'Emailed', icon: 'mail', tone: 'ok' },
  password_set: { label: 'Password set', icon: 'check', tone: 'ok' },
  no_email: { label: 'No email — notify manually', icon: 'warning', tone: 'warn' },
  failed: { label: 'Failed', icon: 'cross', tone: 'bad' },
  skipped: { label: 'Skipped', icon: 'ban', tone: 'muted' },
};

/**
 * RESULT_STATES labels where each user of a task stands now (API.md "Tasks
 * as campaigns"): what became of the email, or the outcome itself, in the
 * same words as OUTCOMES.
 */
export const RESULT_STATES = {
  pending: { label: 'Pending', icon: 'clock', tone: 'muted' },
  sent: { label: 'Sent', icon: 'mail', tone: 'info' },
  delivered: { label: 'Delivered', icon: 'mail', tone: 'info' },
  bounced: { label: 'Bounced', icon: 'warning', tone: 'bad' },
  complained: { label: 'Marked as spam', icon: 'warning', tone: 'bad' },
  completed: { label: 'Completed', icon: 'check', tone: 'ok' },
  expired: { label: 'Link expired', icon: 'clock', tone: 'warn' },
  password_set: OUTCOMES.password_set,
  no_email: OUTCOMES.no_email,
  failed: OUTCOMES.failed,
  skipped: OUTCOMES.skipped,
};

/** IMPORT_OUTCOMES labels what an import did with one row (API.md "Imports"). */
export const IMPORT_OUTCOMES = {
  created: { label: 'Created', icon: 'check', tone: 'ok' },
  updated: { label: 'Updated', icon: 'check', tone: 'info' },
  disabled: { label: 'Disabled', icon: 'ban', tone: 'warn' },
  unchanged: { label: 'Unchanged', icon: 'info', tone: 'muted' },
  failed: { label: 'Failed', icon: 'cross', tone: 'bad' },
};

export const ACTIONS = {
  'user.create': 'Account created',
  'user.update': 'Record edited',
  'user.move': 'Moved to another school',
  'user.role_change': 'Role changed',
  'auth.login': 'Signed in',
  'auth.login_failure': 'Sign-in failed',
  'auth.lockout': 'Locked after failed sign-ins',
  'password.change': 'Changed password',
  'password.reset_link': 'Reset link emailed',
  'password.reset_temporary': 'Temporary password set',
  'password.reset_resend': 'Reset link re-sent',
  'password.reset_complete': 'Password reset completed',
  'password.reset_failed': 'Password reset failed',
  'password.reset_email_failed': 'Reset email failed',
  'password.forgot': 'Asked for a reset link',
  'bulk_reset.approve': 'Bulk reset approved',
  'bulk_reset.reject': 'Bulk reset rejected',
};

export const FIELD_LABELS = {
  firstName: 'First name',
  lastName: 'Last name',
  username: 'Username',
  email: 'Email',
  grade: 'Grade',
  title: 'Title',
  externalId: 'External ID',
  schoolId: 'School',
  districtId: 'District',
  role: 'Role',
  status: 'Status',
  mustChangePassword: 'Must change password',
};

export const DELIVERY_LABELS = {
  email_link: 'Email a reset link',
  default_password: 'Set one default password',
  generated_passwords: 'Generate a password per user',
};

export const SELECTION_LABELS = {
  all: 'All users',
  all_except: 'All users except selected',
  without_role: 'All users without a role (students)',
  selected: 'Selected users only',
  follow_up: 'Follow-up of an earlier task',
};

/** roleLabel names a role code. */
export const roleLabel = (r) => ROLE_LABELS[r] || r || '—';

/** fullName is a user's display name, falling back to the username. */
export function fullName(u) {
  const name = `${u.firstName || ''} ${u.lastName || ''}`.trim();
  return name || u.username || u.id || '';
}

/** badge renders a status with an icon AND text, never colour alone. */
export function badge(table, code) {
  const s = table[code] || { label: code || 'Unknown', icon: 'info', tone: 'muted' };
  return h('span', { class: `badge tone-${s.tone}` }, icon(s.icon), h('span', { text: s.label }));
}

const numberFmt = new Intl.NumberFormat();
export const num = (n) => numberFmt.format(Number(n) || 0);

/** when formats an ISO time in the viewer's zone, as a <time> element. */
export function when(iso, opts = { dateStyle: 'medium', timeStyle: 'short' }) {
  if (!iso) return h('span', { class: 'muted', text: '—' });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return h('span', { class: 'muted', text: '—' });
  return h('time', { datetime: d.toISOString(), text: new Intl.DateTimeFormat(undefined, opts).format(d) });
}

/** inZone formats an ISO time in an IANA time zone, naming the zone. */
export function inZone(iso, timeZone) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZoneName: 'short',
    }).format(d);
  } catch {
    return d.toISOString();
  }
}

/** shortTime formats an ISO time as a time of day (with date if not today). */
export function shortTime(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const today = new Date().toDateString() === d.toDateString();
  return new Intl.DateTimeFormat(undefined, today ? { timeStyle: 'short' } : { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** valueText shows an audit before/after value as plain text. */
export function valueText(v) {
  if (v === undefined || v === null || v === '') return '(empty)';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
