// The "New user" dialog: POST /api/users within the actor's authority.

import { h } from './dom.js';
import * as api from './api.js';
import { openDialog } from './dialog.js';
import { field, alertBox, clearErrors, showError, busy } from './form.js';
import { roleLabel, ROLE_RANK } from './format.js';

const ROLES = ['student', 'teacher', 'school_admin', 'district_admin'];

/** openNewUser opens the form; onSaved gets the created user. */
export async function openNewUser({ actor, rank, onSaved }) {
  const roles = ROLES.filter((r) => ROLE_RANK[r] <= rank);
  const schools = await api.schools().catch(() => []);
  const role = field({ id: 'new-role', name: 'role', label: 'Role', type: 'select', required: true, options: roles.map((r) => ({ value: r, label: roleLabel(r) })) });
  const school = field({
    id: 'new-school', name: 'schoolId', label: 'School', type: 'select',
    options: schools.map((s) => ({ value: s.id, label: s.name })), value: actor.schoolId || '',
  });
  const fields = [
    role,
    field({ id: 'new-first', name: 'firstName', label: 'First name', required: true, autocomplete: 'off' }),
    field({ id: 'new-last', name: 'lastName', label: 'Last name', required: true, autocomplete: 'off' }),
    field({ id: 'new-username', name: 'username', label: 'Username', required: true, autocomplete: 'off', spellcheck: 'false' }),
    field({ id: 'new-email', name: 'email', label: 'Email', type: 'email', optional: true, autocomplete: 'off' }),
    school,
    field({ id: 'new-grade', name: 'grade', label: 'Grade', optional: true }),
    field({ id: 'new-title', name: 'title', label: 'Title', optional: true }),
    field({ id: 'new-external', name: 'externalId', label: 'External id', optional: true, hint: 'The id in your student information system.' }),
  ];
  const alert = alertBox('new-user-alert');
  const save = h('button', { type: 'submit', class: 'button primary', id: 'new-user-save', text: 'Create user' });
  const form = h('form', { id: 'new-user-form', novalidate: true }, alert, ...fields, h('div', { class: 'actions' }, save));
  const syncSchool = () => {
    const scoped = ['student', 'teacher', 'school_admin'].includes(role.control.value);
    school.hidden = !scoped;
  };
  role.control.addEventListener('change', syncSchool);
  syncSchool();
  const dialog = openDialog({ id: 'new-user-dialog', title: 'New user', content: form, initialFocus: role.control });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form, alert);
    const body = {};
    for (const f of fields) {
      if (f.hidden) continue;
      body[f.control.name] = f.control.value.trim();
    }
    busy(save, true, 'Creating…');
    try {
      const user = await api.post('/api/users', body);
      dialog.close();
      if (onSaved) onSaved(user);
    } catch (err) {
      showError(form, alert, err);
    } finally {
      busy(save, false);
    }
  });
}
