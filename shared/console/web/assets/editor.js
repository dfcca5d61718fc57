// The record editor: a side panel with one user's fields. It sends only the
// fields that changed, with the version it loaded, so a concurrent edit is
// reported (409 version_conflict) instead of silently overwritten.

import { h, clear, toast } from './dom.js';
import * as api from './api.js';
import { openDialog } from './dialog.js';
import { field, alertBox, setAlert, setFieldError, clearErrors, showError, busy, setOptions } from './form.js';
import { describe, fallbackText } from './errors.js';
import { fullName, roleLabel, when, STATUS } from './format.js';
import { GRADES } from './grades.js';

const SCHOOL_SCOPED = new Set(['student', 'teacher', 'school_admin']);

/**
 * roleChoices lists the roles the actor may give the target, or null when
 * the role is not the actor's to change. The server's permission policy is
 * final; this only avoids offering what would be refused.
 */
export function roleChoices(actor, target) {
  if (!actor || actor.id === target.id) return null;
  if (actor.role === 'support') return ['student', 'teacher', 'school_admin', 'district_admin'];
  if (actor.role === 'district_admin' && (target.role === 'school_admin' || target.role === 'district_admin')) return ['school_admin', 'district_admin'];
  return null;
}

/** openEditor loads user id and shows the editor; onSaved(user) after a save. */
export function openEditor(id, { actor, onSaved }) {
  const holder = h('div', { class: 'editor-holder' }, h('p', { class: 'status-line', role: 'status', text: 'Loading the record…' }));
  const dialog = openDialog({ id: 'editor', title: 'Edit user', variant: 'panel', content: holder });
  let schools = [];

  async function loadAndDraw(notice) {
    try {
      const [user, list] = await Promise.all([api.get(`/api/users/${encodeURIComponent(id)}`), api.schools().catch(() => [])]);
      schools = list;
      draw(user, notice);
    } catch (err) {
      clear(holder);
      const box = alertBox('edit-alert');
      holder.append(box);
      setAlert(box, describe(err));
    }
  }

  function draw(user, notice) {
    clear(holder);
    const title = dialog.el.querySelector('.dialog-title');
    title.textContent = `Edit ${fullName(user)}`;
    const alert = alertBox('edit-alert');
    const staff = user.role !== 'student';
    const f = {
      firstName: field({ id: 'edit-firstName', name: 'firstName', label: 'First name', value: user.firstName, autocomplete: 'off', maxlength: '100', required: true }),
      lastName: field({ id: 'edit-lastName', name: 'lastName', label: 'Last name', value: user.lastName, autocomplete: 'off', maxlength: '100', required: true }),
      username: field({
        id: 'edit-username',
        name: 'username',
        label: 'Username',
        value: user.username,
        autocomplete: 'off',
        autocapitalize: 'none',
        spellcheck: 'false',
        maxlength: '64',
        hint: '3 to 64 characters: lower-case letters, digits, dot, dash or underscore.',
        required: true,
      }),
      email: field({ id: 'edit-email', name: 'email', label: 'Email', type: 'email', value: user.email, autocomplete: 'off', spellcheck: 'false', optional: true, hint: 'Needed for reset links. Leave empty if the user has none.' }),
      externalId: field({ id: 'edit-externalId', name: 'externalId', label: 'External ID', value: user.externalId, autocomplete: 'off', optional: true, maxlength: '64', hint: 'The district’s pupil or staff number, e.g. a UPN.' }),
    };
    if (!staff) {
      f.grade = field({ id: 'edit-grade', name: 'grade', label: 'Grade', value: user.grade, autocomplete: 'off', maxlength: '16', list: 'edit-grade-list', optional: true });
      f.grade.append(h('datalist', { id: 'edit-grade-list' }, GRADES.map((g) => h('option', { value: g }))));
    } else {
      f.title = field({ id: 'edit-title', name: 'title', label: 'Title', value: user.title, autocomplete: 'off', maxlength: '100', optional: true, hint: 'For example: Teacher, Principal, Librarian.' });
    }

    const choices = roleChoices(actor, user);
    const roleField = choices
      ? field({ id: 'edit-role', name: 'role', label: 'Role', type: 'select', value: user.role, options: choices.map((r) => ({ value: r, label: roleLabel(r) })) })
      : h('div', { class: 'field' }, h('p', { class: 'field-label', id: 'edit-role-label', text: 'Role' }), h('p', { class: 'static-value', id: 'edit-role-static', text: roleLabel(user.role) }));

    const schoolOptions = [{ value: '', label: 'Choose a school' }, ...schools.map((s) => ({ value: s.id, label: s.name }))];
    if (user.schoolId && !schools.some((s) => s.id === user.schoolId)) schoolOptions.push({ value: user.schoolId, label: user.schoolId });
    const ownScope = actor && actor.id === user.id;
    const schoolField = field({ id: 'edit-schoolId', name: 'schoolId', label: 'School', type: 'select', value: user.schoolId, options: schoolOptions, hint: ownScope ? 'You cannot move your own account.' : 'Moving a user needs authority over both schools.' });
    if (ownScope) schoolField.control.disabled = true;

    const statusOptions = [
      { value: 'active', label: 'Active' },
      { value: 'disabled', label: 'Disabled — cannot sign in' },
    ];
    if (user.status === 'reset_required') statusOptions.splice(1, 0, { value: 'reset_required', label: `${STATUS.reset_required.label} — waiting for a new password` });
    const statusField = field({ id: 'edit-status', name: 'status', label: 'Status', type: 'select', value: user.status, options: statusOptions });
    if (ownScope) statusField.control.disabled = true;

    const showSchool = () => {
      const role = choices ? roleField.control.value : user.role;
      schoolField.hidden = !SCHOOL_SCOPED.has(role);
    };
    if (choices) roleField.control.addEventListener('change', showSchool);
    showSchool();

    const save = h('button', { type: 'submit', id: 'edit-save', class: 'button primary', text: 'Save changes' });
    const cancel = h('button', { type: 'button', id: 'edit-cancel', class: 'button', text: 'Cancel' });
    cancel.addEventListener('click', () => dialog.close('cancel'));
    const form = h(
      'form',
      { id: 'edit-form', novalidate: true, class: 'editor-form' },
      alert,
      h('div', { class: 'field-row' }, f.firstName, f.lastName),
      f.username,
      f.email,
      f.grade || f.title,
      f.externalId,
      roleField,
      schoolField,
      statusField,
      h(
        'p',
        { class: 'meta muted' },
        'Last changed ',
        when(user.updatedAt),
        ` · version ${user.version}`,
      ),
      h('div', { class: 'dialog-actions sticky' }, cancel, save),
    );
    holder.append(form);
    if (notice) setAlert(alert, notice, { kind: 'info' });
    f.firstName.control.focus();

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form, alert);
      const changes = {};
      const read = (name, control) => {
        if (!control || control.disabled || control.closest('[hidden]')) return;
        const v = control.tagName === 'SELECT' ? control.value : control.value.trim();
        if (v !== (user[name] ?? '')) changes[name] = v;
      };
      for (const [name, w] of Object.entries(f)) read(name, w.control);
      if (choices) read('role', roleField.control);
      read('schoolId', schoolField.control);
      read('status', statusField.control);
      // A district admin belongs to no school.
      if (changes.role && !SCHOOL_SCOPED.has(changes.role) && user.schoolId) changes.schoolId = '';
      // Quick checks the server repeats; they only save a round trip.
      let bad = false;
      for (const name of ['username', 'firstName', 'lastName']) {
        const c = f[name].control;
        if (!c.value.trim()) {
          setFieldError(c, 'This cannot be empty.');
          if (!bad) c.focus();
          bad = true;
        }
      }
      if (!schoolField.hidden && !schoolField.control.value && !schoolField.control.disabled) {
        setFieldError(schoolField.control, 'Choose a school.');
        if (!bad) schoolField.control.focus();
        bad = true;
      }
      if (bad) return;
      if (Object.keys(changes).length === 0) {
        setAlert(alert, 'Nothing has changed yet.', { kind: 'info' });
        return;
      }
      busy(save, true, 'Saving…');
      try {
        const updated = await api.patch(`/api/users/${encodeURIComponent(user.id)}`, { ...changes, version: user.version });
        dialog.close('saved');
        toast(`Saved changes to ${fullName(updated || user)}.`, 'success');
        if (onSaved) onSaved(updated);
      } catch (err) {
        busy(save, false);
        if (err.code === 'version_conflict') {
          const reload = h('button', { type: 'button', class: 'button small', id: 'edit-reload', text: 'Reload the record' });
          reload.addEventListener('click', () => loadAndDraw('The latest version is loaded. Make your changes again, then save.'));
          setAlert(alert, `${fallbackText('version_conflict')} Reload to see the latest version; your unsaved changes will be lost.`, { extra: h('p', {}, reload) });
          reload.focus();
        } else {
          showError(form, alert, err);
        }
      }
    });
  }

  loadAndDraw();
  return dialog;
}
