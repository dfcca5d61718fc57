// The two halves of a bulk reset form, shared by the bulk reset screen and
// the schedule form: "who" (four filters, optional narrowing by school,
// role and grade) and "how" (three deliveries, with the live policy check
// of a default password).

import { h, clear, icon, codePoints, debounce } from './dom.js';
import * as api from './api.js';
import { radios, field, passwordField, setFieldError } from './form.js';
import { num, roleLabel, DELIVERY_LABELS, SELECTION_LABELS } from './format.js';
import { selection, selectedCount, countUsers, matchingIds } from './selection.js';
import { GRADES } from './grades.js';

/**
 * buildWho draws the selection part. prefix names the ids
 * (`${prefix}-filter-all`, `${prefix}-school`, ...). It returns { el,
 * mode(), narrowing(), payload(), summary(), studentsOnly(), onChange(fn) }.
 */
export function buildWho(prefix, { rank, initialMode = 'all' }) {
  const n = selectedCount();
  const m = selection.matching;
  const modeGroup = radios({
    idPrefix: `${prefix}-filter`,
    name: `${prefix}-filter`,
    legend: 'Whose passwords?',
    value: initialMode,
    options: [
      { value: 'all', label: SELECTION_LABELS.all, hint: 'Everyone you manage, or only those matching the narrowing below.' },
      {
        value: 'all_except',
        label: SELECTION_LABELS.all_except,
        hint: n && !m
          ? `Everyone except the ${num(n)} users selected on the Users screen — for example, leave a few staff untouched. The school, role and grade you had chosen there are kept below.`
          : 'Select the users to leave out on the Users screen first.',
        disabled: !n || !!m,
      },
      { value: 'without_role', label: SELECTION_LABELS.without_role, hint: 'Students only: every staff password is left as it is.' },
      {
        value: 'selected',
        label: SELECTION_LABELS.selected,
        hint: n ? `Only the ${num(n)} users selected on the Users screen.` : 'Select users on the Users screen first.',
        disabled: !n,
      },
    ],
  });

  const chosen = h('div', { class: 'chosen-users', id: `${prefix}-selected-summary` });
  drawChosen();

  const schoolField = field({ id: `${prefix}-school`, name: 'schoolId', label: 'School', type: 'select', options: [{ value: '', label: 'All schools' }] });
  schoolField.classList.add('span-all'); // school names are long: a line of its own
  const roleOptions = [{ value: '', label: 'Any role' }, ...['student', 'teacher', 'school_admin', 'district_admin'].filter((r, i) => i + 1 <= Math.max(rank, 1)).map((r) => ({ value: r, label: roleLabel(r) }))];
  const roleField = field({ id: `${prefix}-role`, name: 'role', label: 'Role', type: 'select', options: roleOptions });
  const gradeField = field({
    id: `${prefix}-grade`,
    name: 'grade',
    label: 'Grade',
    type: 'select',
    options: [{ value: '', label: 'All grades' }, ...GRADES.map((g) => ({ value: g, label: g === 'K' ? 'Kindergarten' : `Grade ${g}` }))],
  });
  const narrowing = h(
    'fieldset',
    { class: 'narrowing', id: `${prefix}-narrowing` },
    h('legend', { text: 'Narrow down (optional)' }),
    h('div', { class: 'field-row three' }, schoolField, roleField, gradeField),
  );
  // The school to show once the list has loaded (the Users screen's).
  let pendingSchool = '';
  api.schools().then(
    (list) => {
      for (const s of list) schoolField.control.append(h('option', { value: s.id, text: s.name }));
      if (pendingSchool) schoolField.control.value = pendingSchool;
      if (list.length <= 1 && !schoolField.control.value) schoolField.hidden = true;
    },
    () => {
      schoolField.hidden = true;
    },
  );

  const el = h('div', { class: 'who' }, modeGroup, chosen, narrowing);
  const listeners = [];
  const fire = () => {
    sync();
    for (const fn of listeners) fn();
  };
  // "All users except selected" starts from the narrowing of the Users
  // screen where the exceptions were picked, once; the admin may change it.
  let keptNarrowing = false;
  modeGroup.addEventListener('change', () => {
    const nw = selection.narrowing;
    if (modeGroup.value() === 'all_except' && nw && !keptNarrowing) {
      keptNarrowing = true;
      pendingSchool = nw.schoolId || '';
      schoolField.control.value = pendingSchool;
      if ([...roleField.control.options].some((o) => o.value === nw.role)) roleField.control.value = nw.role || '';
      gradeField.control.value = nw.grade || '';
    }
    fire();
  });
  narrowing.addEventListener('change', fire);

  function sync() {
    const mode = modeGroup.value();
    narrowing.hidden = mode === 'selected' || mode === '';
    roleField.hidden = mode === 'without_role';
    const role = mode === 'without_role' ? 'student' : roleField.control.value;
    gradeField.hidden = !(role === 'student' || role === '');
    chosen.hidden = !(mode === 'selected' || mode === 'all_except');
  }

  function drawChosen() {
    clear(chosen);
    const count = selectedCount();
    if (!count) return;
    const names = [...selection.ids.values()].slice(0, 5).map((u) => u.name);
    let text;
    if (m) text = `${num(count)}${m.exact ? '' : '+'} users matching your search on the Users screen${m.q ? ` (“${m.q}”)` : ''}.`;
    else text = `${num(count)} selected: ${names.join(', ')}${count > names.length ? ` and ${num(count - names.length)} more` : ''}.`;
    chosen.append(icon('info'), h('span', { text: `${text} ` }), h('a', { href: '#/users', id: `${prefix}-change-selection`, text: 'Change selection' }));
  }

  sync();

  return {
    el,
    mode: () => modeGroup.value(),
    /** focus moves to the first choice, e.g. when none was made. */
    focus: () => modeGroup.querySelector('input:not([disabled])').focus(),
    onChange: (fn) => listeners.push(fn),
    /** filters is the narrowing that applies to the chosen mode. */
    filters() {
      const mode = modeGroup.value();
      if (mode === 'selected') return {};
      const role = mode === 'without_role' ? '' : roleField.control.value;
      const grade = gradeField.hidden ? '' : gradeField.control.value;
      return { schoolId: schoolField.control.value, role, grade };
    },
    /** studentsOnly reports whether only students can be in the selection. */
    studentsOnly() {
      const mode = modeGroup.value();
      if (mode === 'without_role') return true;
      if (mode === 'selected') {
        if (selection.matching) return selection.matching.roles.every((r) => r === 'student');
        return [...selection.ids.values()].every((u) => u.role === 'student');
      }
      return roleField.control.value === 'student';
    },
    /**
     * payload builds the API's selection object. A "select all matching"
     * that filters cannot express (a search, several roles) is expanded
     * to ids; onProgress reports that work.
     */
    async payload() {
      const mode = modeGroup.value();
      const f = this.filters();
      const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== '' && v !== undefined));
      if (mode === 'selected' && selection.matching) {
        const sm = selection.matching;
        if (!sm.q && sm.roles.length === 1) {
          const base = { mode: 'all', userIds: [], role: sm.roles[0], schoolId: sm.schoolId, grade: sm.grade };
          return clean(base);
        }
        const { ids, complete } = await matchingIds(sm);
        if (!complete) throw new Error('too_many_selected');
        return { mode: 'selected', userIds: ids };
      }
      const ids = mode === 'selected' || mode === 'all_except' ? [...selection.ids.keys()] : [];
      return { mode, userIds: ids, ...clean(f) };
    },
    /** count resolves {count, exact} for the confirmation. */
    async count() {
      const mode = modeGroup.value();
      if (mode === 'selected') return { count: selectedCount(), exact: !selection.matching || selection.matching.exact };
      const f = this.filters();
      const roles = mode === 'without_role' ? ['student'] : f.role ? [f.role] : [];
      const all = await countUsers({ roles, schoolId: f.schoolId, grade: f.grade });
      if (mode === 'all_except') return { count: Math.max(0, all.count - selection.ids.size), exact: false, approx: true };
      return all;
    },
    summary() {
      const mode = modeGroup.value();
      const f = this.filters();
      const parts = [SELECTION_LABELS[mode]];
      if (f.schoolId) parts.push(`school: ${schoolField.control.selectedOptions[0]?.textContent || f.schoolId}`);
      if (f.role) parts.push(`role: ${roleLabel(f.role)}`);
      if (f.grade) parts.push(`grade: ${f.grade}`);
      return parts.join(' · ');
    },
  };
}

/**
 * buildHow draws the delivery part with the live policy check of the
 * default password. studentsOnly() tells which minimum length applies.
 * noDefault offers the default password only as a disabled choice, with
 * the reason (schedules never store a password).
 */
export function buildHow(prefix, { studentsOnly, initial = 'email_link', noDefault = '' }) {
  const pw = passwordField({ id: `${prefix}-default-password`, name: 'defaultPassword', label: 'Default password', autocomplete: 'new-password', hint: 'Checked against your district’s password policy.' });
  const check = h('p', { id: `${prefix}-password-check`, class: 'password-check', 'aria-live': 'polite' });
  pw.append(check);
  const box = h('div', { class: 'subfields', id: `${prefix}-default-password-box` }, pw);
  const group = radios({
    idPrefix: `${prefix}-delivery`,
    name: `${prefix}-delivery`,
    legend: 'How do they get a new password?',
    value: initial,
    options: [
      { value: 'email_link', label: DELIVERY_LABELS.email_link, hint: 'Each user gets a single-use link. Their current password stops working at once. Users without an email address are listed as needing manual notification.' },
      noDefault
        ? { value: 'default_password', label: DELIVERY_LABELS.default_password, hint: noDefault, disabled: true }
        : { value: 'default_password', label: DELIVERY_LABELS.default_password, hint: 'Everyone gets the password you type. No email is sent; they must choose their own at next sign-in.', extra: box },
      { value: 'generated_passwords', label: DELIVERY_LABELS.generated_passwords, hint: 'A different temporary password for each user, in a file you download from the task for printing or a mail merge. No email is sent. The file is kept for 24 hours.' },
    ],
  });
  const el = h('div', { class: 'how' }, group);
  let policy = { ...api.DEFAULT_POLICY, guessed: true };
  api.passwordPolicy().then((p) => {
    policy = p;
    live();
  });

  function minLength() {
    return studentsOnly() ? policy.minLengthStudent : policy.minLengthStaff;
  }

  /** problem returns why the default password is not acceptable, or ''. */
  function problem() {
    const v = pw.control.value;
    const n = codePoints(v);
    const min = minLength();
    if (n === 0) return 'Type the default password.';
    if (n < min) return `Too short: ${n} of at least ${min} characters${studentsOnly() ? '' : ' (staff may be included)'}.`;
    if (n > policy.maxLength) return `Too long: ${n} characters; at most ${policy.maxLength}.`;
    return '';
  }

  const announce = debounce((text) => {
    check.textContent = text;
  }, 400);

  function live() {
    clear(check);
    const v = pw.control.value;
    if (!v) {
      check.append(h('span', { text: `At least ${minLength()} characters${studentsOnly() ? '' : ', because staff may be included'}.` }));
      return;
    }
    const p = problem();
    check.className = `password-check ${p ? 'is-bad' : 'is-ok'}`;
    check.append(icon(p ? 'warning' : 'check'));
    const text = h('span', { text: p || `Long enough (${codePoints(v)} characters). The server also checks it against common passwords.` });
    check.append(text);
    if (pw.control.getAttribute('aria-invalid') === 'true' && !p) setFieldError(pw.control, '');
  }
  pw.control.addEventListener('input', () => {
    live();
    announce(check.textContent);
  });

  const sync = () => {
    box.hidden = group.value() !== 'default_password';
    live();
  };
  group.addEventListener('change', sync);
  sync();

  return {
    el,
    refresh: live,
    mode: () => group.value(),
    /** focus moves to the first choice, e.g. when none was made. */
    focus: () => group.querySelector('input:not([disabled])').focus(),
    /** validate marks the field and returns false when the default password is unusable. */
    validate() {
      if (group.value() !== 'default_password') return true;
      const p = problem();
      if (p) {
        setFieldError(pw.control, p);
        pw.control.focus();
        return false;
      }
      return true;
    },
    payload() {
      const mode = group.value();
      return mode === 'default_password' ? { mode, defaultPassword: pw.control.value } : { mode };
    },
    summary: () => DELIVERY_LABELS[group.value()],
  };
}
