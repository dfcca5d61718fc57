// Scheduled bulk resets: list (with the next and last run in the schedule's
// own time zone), create and edit with the "when" builder, the tasks a
// schedule started, pause/resume and delete. A schedule above the
// district's approval threshold shows "Waiting for approval" until another
// administrator approves it (Approve, offered to those who neither created
// it nor saved the version waiting; the API decides who may).

import { h, clear, icon, toast } from './dom.js';
import * as api from './api.js';
import { openDialog, confirmDialog } from './dialog.js';
import { field, checkbox, alertBox, setAlert, setFieldError, clearErrors, showError, busy } from './form.js';
import { describe } from './errors.js';
import { inZone, roleLabel, badge, DELIVERY_LABELS, SELECTION_LABELS, TASK_STATUS } from './format.js';
import { buildWho, buildHow } from './bulkform.js';
import { zoneOptions } from './zones.js';
import { buildWhen, fromExpression, describeWhen } from './schedulebuilder.js';

/** EXAMPLES are offered under the expression field. */
const EXAMPLES = [
  { expression: 'cron(0 7 1 9 ? *)', label: 'Every 1 September at 07:00' },
  { expression: 'cron(0 6 ? * MON *)', label: 'Every Monday at 06:00' },
  { expression: 'rate(7 days)', label: 'Every 7 days' },
];

/** describeExpression gives a rate() expression in words; cron stays as is. */
export function describeExpression(expr) {
  const built = describeWhen(fromExpression(expr));
  if (built) return built;
  const known = EXAMPLES.find((e) => e.expression === expr);
  if (known) return known.label;
  const m = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(expr || '');
  if (m) return `Every ${m[1] === '1' ? '' : `${m[1]} `}${m[1] === '1' ? m[2].replace(/s$/, '') : m[2]}`;
  return '';
}

/** validExpression is a light check of EventBridge syntax; the server decides. */
export function validExpression(expr) {
  return /^cron\(\S+( \S+){5}\)$/.test(expr) || /^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$/.test(expr);
}

function selectionText(sel) {
  if (!sel) return '—';
  const parts = [SELECTION_LABELS[sel.mode] || sel.mode];
  if ((sel.mode === 'selected' || sel.mode === 'all_except') && sel.userIds) parts.push(`${sel.userIds.length} listed`);
  if (sel.role) parts.push(roleLabel(sel.role));
  if (sel.grade) parts.push(`grade ${sel.grade}`);
  return parts.join(' · ');
}

/** awaitingApproval reports whether schedule s may not run until approved. */
export function awaitingApproval(s) {
  return !!s.needsApproval && !s.approvedBy;
}

/** approvalErrorText says what an approval refusal means for a schedule. */
function approvalErrorText(err) {
  if (err.code === 'self_approval') return 'You created or last changed this schedule, so another administrator must approve it.';
  if (err.code === 'not_awaiting_approval') return 'This schedule is no longer waiting for approval. Reload to see where it stands.';
  if (err.code === 'version_conflict') return 'The schedule changed while you approved it. Look at it again before approving.';
  return describe(err);
}

/** nextRunText says why a schedule shows no next run. */
function nextRunText(s) {
  if (!s.enabled) return 'Paused';
  return s.lastRunAt ? 'No more runs' : 'Not known yet';
}

/** mount draws the schedules screen. */
export function mount(main, ctx) {
  let disposed = false;
  let schoolNames = new Map();
  const newButton = h('button', { type: 'button', class: 'button primary', id: 'schedules-new', text: 'New schedule' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'data-table', id: 'schedules-table' },
    h('caption', { class: 'visually-hidden', text: 'Schedules' }),
    h('thead', {}, h('tr', {}, ...['Name', 'When', 'Next run', 'Users', 'Delivery', 'Status', 'Actions'].map((c) => h('th', { scope: 'col', text: c })))),
    tbody,
  );
  const status = h('p', { class: 'status-line', role: 'status', id: 'schedules-status' });
  const alert = h('div', { class: 'alert', role: 'alert', id: 'schedules-error' });
  const empty = h(
    'div',
    { class: 'empty-state', id: 'schedules-empty', hidden: true },
    h('p', { class: 'empty-title', text: 'No schedules yet.' }),
    h('p', { text: 'A schedule runs a bulk reset at set times — for example, every student of a school on the first day of term.' }),
  );
  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Schedules' }), newButton),
    h('p', { class: 'lead', text: 'Each run is an ordinary task: follow it in Tasks.' }),
    alert,
    status,
    h('div', { class: 'table-wrap' }, table),
    empty,
  );
  newButton.addEventListener('click', () => openForm());

  function schoolText(sel) {
    if (!sel || !sel.schoolId) return '';
    return schoolNames.get(sel.schoolId) || sel.schoolId;
  }

  function row(s) {
    const toggle = h('button', {
      type: 'button',
      class: 'button small',
      id: `schedule-toggle-${s.id}`,
      'aria-label': `${s.enabled ? 'Pause' : 'Resume'} ${s.name}`,
      text: s.enabled ? 'Pause' : 'Resume',
    });
    toggle.addEventListener('click', () => setEnabled(s, !s.enabled, toggle));
    const edit = h('button', { type: 'button', class: 'button small', id: `schedule-edit-${s.id}`, 'aria-label': `Edit ${s.name}`, text: 'Edit' });
    edit.addEventListener('click', () => openForm(s));
    const remove = h('button', { type: 'button', class: 'button small danger-outline', id: `schedule-delete-${s.id}`, 'aria-label': `Delete ${s.name}`, text: 'Delete' });
    remove.addEventListener('click', () => removeSchedule(s));
    const waiting = awaitingApproval(s);
    const mayApprove = waiting && s.createdBy !== ctx.user.id && s.submittedBy !== ctx.user.id;
    let approve = null;
    if (mayApprove) {
      approve = h('button', { type: 'button', class: 'button primary small', id: `schedule-approve-${s.id}`, 'aria-label': `Approve ${s.name}`, text: 'Approve' });
      approve.addEventListener('click', () => approveSchedule(s, approve));
    }
    const words = describeExpression(s.expression);
    const next = s.enabled && s.nextRunAt ? inZone(s.nextRunAt, s.timezone) : '';
    const school = schoolText(s.selection);
    return h(
      'tr',
      { 'data-schedule-id': s.id },
      h('td', { 'data-label': 'Name', class: 'cell-name', text: s.name }),
      h('td', { 'data-label': 'When' }, words ? h('span', { text: words }) : null, words ? h('br') : null, h('code', { text: s.expression }), h('br'), h('span', { class: 'muted', text: s.timezone })),
      h(
        'td',
        { 'data-label': 'Next run' },
        h('span', { id: `schedule-next-${s.id}` }, next ? h('span', { text: next }) : h('span', { class: 'muted', text: nextRunText(s) })),
        s.lastRunAt ? h('br') : null,
        s.lastRunAt
          ? h('span', { class: 'muted', id: `schedule-last-${s.id}` }, 'Last: ', s.lastTaskId ? h('a', { href: `#/tasks/${encodeURIComponent(s.lastTaskId)}`, text: inZone(s.lastRunAt, s.timezone) }) : inZone(s.lastRunAt, s.timezone))
          : null,
        s.lastRunReason ? h('br') : null,
        s.lastRunReason ? h('span', { class: 'muted', id: `schedule-last-reason-${s.id}`, text: s.lastRunReason }) : null,
      ),
      h('td', { 'data-label': 'Users' }, h('span', { text: selectionText(s.selection) }), school ? h('br') : null, school ? h('span', { class: 'muted', text: school }) : null),
      h('td', { 'data-label': 'Delivery', text: DELIVERY_LABELS[s.delivery?.mode] || s.delivery?.mode || '—' }),
      h(
        'td',
        { 'data-label': 'Status' },
        s.enabled ? h('span', { class: 'badge tone-ok' }, icon('check'), h('span', { text: 'Active' })) : h('span', { class: 'badge tone-muted' }, icon('pause'), h('span', { text: 'Paused' })),
        waiting ? h('br') : null,
        waiting ? h('span', { class: 'badge tone-warn', id: `schedule-waiting-${s.id}` }, icon('lock'), h('span', { text: 'Waiting for approval' })) : null,
        waiting && !mayApprove ? h('p', { class: 'hint', text: 'It reaches more users than your district lets one person schedule. Another administrator must approve it before it runs.' }) : null,
      ),
      h('td', { 'data-label': 'Actions' }, h('div', { class: 'row-actions' }, approve, edit, toggle, remove)),
    );
  }

  async function load() {
    status.textContent = 'Loading schedules…';
    try {
      const [res, schools] = await Promise.all([api.get('/api/schedules'), api.schools().catch(() => [])]);
      if (disposed) return;
      schoolNames = new Map(schools.map((s) => [s.id, s.name]));
      const items = (res && res.items) || (Array.isArray(res) ? res : []);
      clear(tbody);
      for (const s of items) tbody.append(row(s));
      empty.hidden = items.length > 0;
      table.parentElement.hidden = items.length === 0;
      status.textContent = items.length ? `${items.length} ${items.length === 1 ? 'schedule' : 'schedules'}.` : '';
    } catch (err) {
      if (disposed) return;
      setAlert(alert, describe(err));
      status.textContent = '';
    }
  }

  async function setEnabled(s, enabled, button) {
    button.disabled = true;
    try {
      const body = { enabled };
      if (s.version !== undefined) body.version = s.version;
      await api.patch(`/api/schedules/${encodeURIComponent(s.id)}`, body);
      toast(enabled ? `“${s.name}” will run again.` : `“${s.name}” is paused.`, 'success');
      await load();
      document.getElementById(`schedule-toggle-${s.id}`)?.focus();
    } catch (err) {
      button.disabled = false;
      toast(describe(err), 'error');
    }
  }

  async function approveSchedule(s, button) {
    const school = schoolText(s.selection);
    const ok = await confirmDialog({
      title: 'Approve this schedule?',
      message: 'Every run from now on resets these users without asking again. A change of whom, how or when asks for approval again.',
      details: h('p', { text: `${selectionText(s.selection)}${school ? ` · ${school}` : ''} · ${DELIVERY_LABELS[s.delivery?.mode] || ''} · ${describeExpression(s.expression) || s.expression} (${s.timezone})` }),
      confirmLabel: 'Approve schedule',
      danger: true,
    });
    if (!ok) return;
    button.disabled = true;
    try {
      await api.post(`/api/schedules/${encodeURIComponent(s.id)}/approve`, {});
      toast(`Approved “${s.name}”: it will run at its times.`, 'success');
      await load();
    } catch (err) {
      button.disabled = false;
      setAlert(alert, approvalErrorText(err));
    }
  }

  async function removeSchedule(s) {
    const ok = await confirmDialog({
      title: 'Delete this schedule?',
      message: `“${s.name}” will not run again. Tasks it already started are kept.`,
      confirmLabel: 'Delete schedule',
      danger: true,
    });
    if (!ok) return;
    try {
      await api.del(`/api/schedules/${encodeURIComponent(s.id)}`);
      toast(`Deleted “${s.name}”.`, 'success');
      await load();
      newButton.focus();
    } catch (err) {
      toast(describe(err), 'error');
    }
  }

  /** openForm opens the create form, or the edit form of schedule existing. */
  function openForm(existing) {
    const editing = !!existing;
    const p = 'schedule';
    const formAlert = alertBox('schedule-error');
    const name = field({ id: 'schedule-name', name: 'name', label: 'Name', required: true, maxlength: '100', autocomplete: 'off', value: existing?.name || '', hint: 'For example: Hillcrest students, first day of term.' });
    const when = buildWhen(p, { expression: existing?.expression || '', examples: EXAMPLES });
    // A new schedule runs in the district's time zone unless another is
    // chosen; the server fills it in when "the district's" is left chosen.
    const districtZone = { value: '', label: "The district's time zone" };
    const tz = field({
      id: 'schedule-timezone',
      name: 'timezone',
      label: 'Time zone',
      type: 'select',
      value: existing?.timezone || '',
      options: editing ? zoneOptions(existing.timezone) : [districtZone, ...zoneOptions()],
    });
    if (!editing && ctx.user.role === 'district_admin') {
      api.get('/api/district/settings', { quiet: true }).then(
        (settings) => {
          if (tz.control.value === '' && settings?.timezone) {
            districtZone.label = `The district's time zone (${settings.timezone.replace(/_/g, ' ')})`;
            tz.control.options[0].textContent = districtZone.label;
            tz.control.value = settings.timezone;
          }
        },
        () => {},
      );
    }
    // Editing keeps the saved users unless "Change whom" is ticked.
    const who = buildWho(p, { rank: ctx.rank, initialMode: 'without_role' });
    const changeWho = editing ? checkbox({ id: 'schedule-change-who', name: 'changeWho', label: `Change whom: now ${selectionText(existing.selection)}${schoolText(existing.selection) ? ` · ${schoolText(existing.selection)}` : ''}` }) : null;
    if (changeWho) {
      who.el.hidden = true;
      changeWho.control.addEventListener('change', () => {
        who.el.hidden = !changeWho.control.checked;
        how.refresh();
      });
    }
    const how = buildHow(p, {
      studentsOnly: () => (changeWho && !changeWho.control.checked ? existing.selection.mode === 'without_role' || existing.selection.role === 'student' : who.studentsOnly()),
      initial: existing?.delivery?.mode || 'email_link',
      noDefault: 'Not for schedules: a saved schedule never keeps a password. Use a reset link or generated passwords.',
    });
    who.onChange(() => how.refresh());
    const enabled = checkbox({ id: 'schedule-enabled', name: 'enabled', label: 'Enabled: run at the times above', checked: existing ? existing.enabled : true });
    const save = h('button', { type: 'submit', id: 'schedule-save', class: 'button primary', text: editing ? 'Save changes' : 'Save schedule' });
    const cancel = h('button', { type: 'button', id: 'schedule-cancel', class: 'button', text: 'Cancel' });
    const runs = editing ? runsSection(existing) : null;
    const form = h(
      'form',
      { id: 'schedule-form', novalidate: true },
      formAlert,
      name,
      when.el,
      tz,
      h('h3', { text: 'Users' }),
      changeWho,
      who.el,
      h('h3', { text: 'Delivery' }),
      how.el,
      enabled,
      runs,
      h('div', { class: 'dialog-actions sticky' }, cancel, save),
    );
    const dialog = openDialog({ id: 'schedule-dialog', title: editing ? `Edit “${existing.name}”` : 'New schedule', variant: 'panel', content: form, initialFocus: name.control });
    cancel.addEventListener('click', () => dialog.close('cancel'));

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form, formAlert);
      const n = name.control.value.trim();
      if (!n) {
        setFieldError(name.control, 'Give the schedule a name.');
        name.control.focus();
        return;
      }
      const ex = when.expression();
      if (!ex) return;
      if (!how.validate()) return;
      busy(save, true, 'Saving…');
      try {
        let saved;
        if (editing) {
          const body = { name: n, expression: ex, delivery: how.payload(), enabled: enabled.control.checked, version: existing.version };
          if (tz.control.value) body.timezone = tz.control.value;
          if (changeWho.control.checked) body.selection = await who.payload();
          saved = await api.patch(`/api/schedules/${encodeURIComponent(existing.id)}`, body);
        } else {
          const selection = await who.payload();
          saved = await api.post('/api/schedules', { name: n, expression: ex, timezone: tz.control.value, selection, delivery: how.payload(), enabled: enabled.control.checked });
        }
        dialog.close('saved');
        const next = saved && saved.nextRunAt ? ` Next run: ${inZone(saved.nextRunAt, saved.timezone)}.` : '';
        const wait = saved && awaitingApproval(saved) ? ' It reaches more users than one person may schedule: it waits for another administrator’s approval before it runs.' : '';
        toast(`Saved “${n}”.${next}${wait}`, 'success');
        load();
      } catch (err) {
        busy(save, false);
        if (err.message === 'too_many_selected') setAlert(formAlert, 'That selection is too large to save as a list. Use “All users” with a school, role or grade instead.');
        else if (err.code === 'version_conflict') setAlert(formAlert, `${describe(err)} Close this form and open the schedule again to see the latest version.`);
        else if (err.field === 'expression') when.showError(describe(err));
        else if (err.field === 'defaultPassword' || (err.code === 'weak_password' && !err.field)) {
          const c = document.getElementById('schedule-default-password');
          setFieldError(c, describe(err));
          c.focus();
        } else showError(form, formAlert, err);
      }
    });
  }

  /** runsSection shows a schedule's last and next run and the tasks it started. */
  function runsSection(s) {
    const list = h('ul', { class: 'plain-list', id: 'schedule-tasks' });
    const note = h('p', { class: 'muted', id: 'schedule-tasks-status', text: 'Loading the tasks it started…' });
    api.get(`/api/tasks${api.query({ scheduleId: s.id, limit: 10 })}`).then(
      (res) => {
        const items = (res && res.items) || [];
        note.textContent = items.length ? '' : 'It has not started any task yet.';
        for (const t of items) {
          list.append(h('li', { 'data-task-id': t.id }, h('a', { href: `#/tasks/${encodeURIComponent(t.id)}`, text: inZone(t.createdAt, s.timezone) }), ' ', badge(TASK_STATUS, t.status)));
        }
      },
      (err) => {
        note.textContent = describe(err);
      },
    );
    return h(
      'section',
      { class: 'schedule-runs', 'aria-labelledby': 'schedule-runs-title' },
      h('h3', { id: 'schedule-runs-title', text: 'Runs' }),
      h(
        'dl',
        { class: 'details' },
        h('div', {}, h('dt', { text: 'Next run' }), h('dd', { id: 'schedule-form-next', text: s.enabled && s.nextRunAt ? inZone(s.nextRunAt, s.timezone) : nextRunText(s) })),
        h('div', {}, h('dt', { text: 'Last run' }), h('dd', { id: 'schedule-form-last', text: s.lastRunAt ? inZone(s.lastRunAt, s.timezone) : 'Never' })),
      ),
      h('h4', { text: 'Tasks it started' }),
      note,
      list,
    );
  }

  load();
  return () => {
    disposed = true;
  };
}
