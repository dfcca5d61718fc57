// District settings (district admins): the password rules' minimum
// lengths, the approval threshold of bulk resets, the grade up to which
// generated passwords are kid-friendly, and the district's time zone. A
// raised minimum is first tried as a dry run, so the admin sees how many
// people will have to choose a new password before saving.

import { h, toast } from './dom.js';
import * as api from './api.js';
import { confirmDialog } from './dialog.js';
import { field, alertBox, setAlert, setFieldError, clearErrors, showError, busy, setOptions } from './form.js';
import { describe, fallbackText } from './errors.js';
import { num } from './format.js';
import { GRADES } from './grades.js';
import { zoneOptions } from './zones.js';

/** Bounds the server checks (shared/rekey/settings.go); the server decides. */
const BOUNDS = {
  minLengthStaff: [8, 64],
  minLengthStudent: [6, 64],
  approvalThreshold: [0, 1000000],
};

/** mount draws the settings screen. */
export function mount(main, ctx) {
  let disposed = false;
  let loaded = null; // the settings as last read or saved
  const alert = alertBox('settings-error');
  const status = h('p', { class: 'status-line', role: 'status', id: 'settings-status', text: 'Loading settings…' });
  const staff = field({ id: 'settings-min-staff', name: 'minLengthStaff', label: 'Staff passwords: at least (characters)', type: 'number', min: '8', max: '64', inputmode: 'numeric', hint: 'From 8 to 64. 15 is the recommended length for accounts without a second factor.' });
  const student = field({ id: 'settings-min-student', name: 'minLengthStudent', label: 'Student passwords: at least (characters)', type: 'number', min: '6', max: '64', inputmode: 'numeric', hint: 'From 6 to 64.' });
  const threshold = field({
    id: 'settings-threshold',
    name: 'approvalThreshold',
    label: 'Second approver for bulk resets of more than (users)',
    type: 'number',
    min: '0',
    max: '1000000',
    inputmode: 'numeric',
    hint: 'A bulk reset of more users waits until another administrator approves it. 0 turns approvals off.',
  });
  const grade = field({
    id: 'settings-kid-grade',
    name: 'kidFriendlyMaxGrade',
    label: 'Easy-to-type generated passwords up to grade',
    type: 'select',
    options: GRADES.map((g, i) => ({ value: String(i), label: g === 'K' ? 'Kindergarten' : `Grade ${g}` })),
    hint: 'Generated passwords for younger students are words and digits a child can type.',
  });
  const zone = field({ id: 'settings-timezone', name: 'timezone', label: 'District time zone', type: 'select', options: zoneOptions('UTC'), hint: 'New schedules run in this time zone unless they name another.' });
  const save = h('button', { type: 'submit', id: 'settings-save', class: 'button primary', text: 'Save settings' });
  const form = h(
    'form',
    { id: 'settings-form', class: 'settings-form', novalidate: true, hidden: true },
    alert,
    h('fieldset', {}, h('legend', { text: 'Password rules' }), h('div', { class: 'field-row' }, staff, student)),
    h('p', { class: 'muted', id: 'settings-tighten-note', text: 'Raising a minimum resets nobody: people whose password was set under the lower minimum choose a new one at their next sign-in.' }),
    h('fieldset', {}, h('legend', { text: 'Bulk resets' }), threshold),
    h('fieldset', {}, h('legend', { text: 'Generated passwords' }), grade),
    h('fieldset', {}, h('legend', { text: 'Time' }), zone),
    h('div', { class: 'form-actions' }, save),
  );
  const version = h('p', { class: 'muted', id: 'settings-version' });
  main.append(
    h('h1', { text: 'District settings' }),
    h('p', { class: 'lead', text: 'These apply to every school of your district. Changes are recorded in the activity log.' }),
    status,
    h('section', { class: 'card', 'aria-label': 'Settings' }, form, version),
  );

  function draw(s) {
    loaded = s;
    staff.control.value = String(s.minLengthStaff);
    student.control.value = String(s.minLengthStudent);
    threshold.control.value = String(s.approvalThreshold);
    grade.control.value = String(s.kidFriendlyMaxGrade);
    setOptions(zone.control, zoneOptions(s.timezone), s.timezone);
    version.textContent = `Version ${s.version}.`;
    form.hidden = false;
  }

  async function load(message) {
    try {
      const s = await api.get('/api/district/settings');
      if (disposed) return;
      draw(s);
      status.textContent = '';
      setAlert(alert, message || '', { kind: 'info' });
    } catch (err) {
      if (disposed) return;
      status.textContent = '';
      main.append(h('div', { class: 'alert alert-error', role: 'alert', id: 'settings-load-error' }, h('p', { text: describe(err) })));
    }
  }

  /** changes returns the fields that differ from what was loaded, or null after a field error. */
  function changes() {
    const out = {};
    for (const f of [staff, student, threshold]) {
      const name = f.control.name;
      const raw = f.control.value.trim();
      const n = Number(raw);
      const [lo, hi] = BOUNDS[name];
      if (raw === '' || !Number.isInteger(n) || n < lo || n > hi) {
        setFieldError(f.control, `Give a whole number from ${num(lo)} to ${num(hi)}.`);
        f.control.focus();
        return null;
      }
      if (n !== loaded[name]) out[name] = n;
    }
    const g = Number(grade.control.value);
    if (g !== loaded.kidFriendlyMaxGrade) out.kidFriendlyMaxGrade = g;
    if (zone.control.value !== loaded.timezone) out.timezone = zone.control.value;
    return out;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    const body = changes();
    if (!body) return;
    if (Object.keys(body).length === 0) {
      setAlert(alert, 'Nothing changed.', { kind: 'info' });
      return;
    }
    body.version = loaded.version;
    busy(save, true, 'Saving…');
    try {
      const raised = (body.minLengthStaff ?? 0) > loaded.minLengthStaff || (body.minLengthStudent ?? 0) > loaded.minLengthStudent;
      if (raised) {
        const preview = await api.patch('/api/district/settings', { ...body, dryRun: true });
        const n = preview.usersToChangePassword || 0;
        const ok = await confirmDialog({
          title: 'Raise the minimum length?',
          message:
            n === 0
              ? 'Nobody has a password set under the old rule, so nobody will be asked to change theirs.'
              : `${num(n)} ${n === 1 ? 'person' : 'people'} will have to choose a new password at their next sign-in. Nobody is signed out and no email is sent.`,
          confirmLabel: 'Save settings',
        });
        if (!ok) {
          busy(save, false);
          return;
        }
      }
      const saved = await api.patch('/api/district/settings', body);
      if (disposed) return;
      busy(save, false);
      draw(saved);
      api.forgetCaches();
      toast('Settings saved.', 'success');
    } catch (err) {
      busy(save, false);
      if (err.code === 'version_conflict') {
        const reload = h('button', { type: 'button', class: 'button small', id: 'settings-reload', text: 'Reload the settings' });
        reload.addEventListener('click', () => load('The latest settings are loaded. Make your changes again, then save.'));
        setAlert(alert, `${fallbackText('version_conflict')} Reload to see the latest settings; your unsaved changes will be lost.`, { extra: h('p', {}, reload) });
        reload.focus();
      } else {
        showError(form, alert, err);
      }
    }
  });

  load();
  return () => {
    disposed = true;
  };
}
