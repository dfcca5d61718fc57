// Form controls with their labels, hints and error messages wired up for
// assistive technology: every control has a <label>, hints and errors are
// linked with aria-describedby, and a field in error gets aria-invalid.

import { h, icon, clear } from './dom.js';
import { describe } from './errors.js';

/**
 * field returns a labelled control. type may be any input type, "select"
 * (with options [{value, label}]) or "textarea". name is the API field name
 * used to place server errors. The control is available as wrapper.control.
 */
export function field({ id, name, label, type = 'text', value = '', hint, required, options, optional, ...rest }) {
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  let control;
  const common = { id, name: name || id, 'aria-describedby': hintId, required: required || null };
  if (type === 'select') {
    control = h('select', common);
    setOptions(control, options || [], value);
  } else if (type === 'textarea') {
    control = h('textarea', { ...common, ...attrsOf(rest) });
    control.value = value ?? '';
  } else {
    control = h('input', { ...common, type, ...attrsOf(rest) });
    control.value = value ?? '';
  }
  control.dataset.hint = hintId || '';
  const labelEl = h('label', { for: id, class: 'field-label' }, label, optional ? h('span', { class: 'optional', text: ' (optional)' }) : null);
  const wrapper = h(
    'div',
    { class: 'field' },
    labelEl,
    hint ? h('p', { id: hintId, class: 'hint', text: hint }) : null,
    control,
    h('p', { id: errorId, class: 'field-error', hidden: true }),
  );
  wrapper.control = control;
  return wrapper;
}

function attrsOf(rest) {
  const out = {};
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined || v === null || v === false) continue;
    out[k] = v;
  }
  return out;
}

/** setOptions replaces a select's options and selects value. */
export function setOptions(select, options, value) {
  clear(select);
  for (const o of options) {
    const opt = h('option', { value: o.value, text: o.label, disabled: o.disabled || null });
    select.append(opt);
  }
  if (value !== undefined) select.value = value ?? '';
}

/**
 * passwordField is a password input with a "Show" toggle, so people can
 * check a long passphrase instead of typing it twice.
 */
export function passwordField({ id, name, label, autocomplete = 'new-password', hint, required = true, value = '' }) {
  const wrapper = field({ id, name, label, type: 'password', hint, required, autocomplete, value, spellcheck: 'false', autocapitalize: 'none' });
  const input = wrapper.control;
  const toggle = h('button', {
    type: 'button',
    id: `${id}-show`,
    class: 'button small show-password',
    'aria-pressed': 'false',
    'aria-controls': id,
    text: 'Show',
  });
  toggle.addEventListener('click', () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    toggle.setAttribute('aria-pressed', String(show));
    toggle.textContent = show ? 'Hide' : 'Show';
  });
  const row = h('div', { class: 'input-with-button' });
  input.replaceWith(row);
  row.append(input, toggle);
  return wrapper;
}

/**
 * radios returns a fieldset of radio buttons. options: [{value, label,
 * hint, disabled, extra}]; extra is a node shown right under its option
 * (e.g. the field that option needs). Ids are `${idPrefix}-${value}`.
 */
export function radios({ idPrefix, name, legend, options, value, hint }) {
  const hintId = hint ? `${idPrefix}-hint` : null;
  const fs = h(
    'fieldset',
    { class: 'radios', id: `${idPrefix}-group`, 'aria-describedby': hintId },
    h('legend', { text: legend }),
    hint ? h('p', { id: hintId, class: 'hint', text: hint }) : null,
  );
  for (const o of options) {
    const id = `${idPrefix}-${o.value}`;
    const optHint = o.hint ? `${id}-hint` : null;
    const input = h('input', {
      type: 'radio',
      id,
      name,
      value: o.value,
      'aria-describedby': optHint,
      disabled: o.disabled || null,
    });
    input.checked = o.value === value;
    fs.append(
      h(
        'div',
        { class: 'radio' },
        input,
        h('label', { for: id, text: o.label }),
        o.hint ? h('p', { id: optHint, class: 'hint', text: o.hint }) : null,
      ),
    );
    if (o.extra) fs.append(o.extra);
  }
  fs.value = () => {
    const checked = fs.querySelector(`input[type=radio][name="${CSS.escape(name)}"]:checked`);
    return checked ? checked.value : '';
  };
  return fs;
}

/** checkbox returns a labelled checkbox. */
export function checkbox({ id, name, label, checked = false, hint }) {
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', { type: 'checkbox', id, name: name || id, 'aria-describedby': hintId });
  input.checked = checked;
  const wrapper = h('div', { class: 'checkbox' }, input, h('label', { for: id, text: label }), hint ? h('p', { id: hintId, class: 'hint', text: hint }) : null);
  wrapper.control = input;
  return wrapper;
}

/** alertBox is a form-level message area announced when it gets content. */
export function alertBox(id) {
  return h('div', { id, class: 'alert', role: 'alert' });
}

/** setAlert fills an alert box (empty message clears it); extra nodes follow the text. */
export function setAlert(box, message, { kind = 'error', extra } = {}) {
  clear(box);
  box.className = `alert alert-${kind}`;
  if (!message) return;
  box.append(icon(kind === 'error' ? 'warning' : kind === 'success' ? 'check' : 'info'), h('div', { class: 'alert-text' }, h('p', { text: message }), extra || null));
}

/** setFieldError marks a control as invalid with a message next to it. */
export function setFieldError(control, message) {
  const errorEl = document.getElementById(`${control.id}-error`);
  if (!errorEl) return;
  clear(errorEl);
  if (!message) {
    errorEl.hidden = true;
    control.removeAttribute('aria-invalid');
    control.setAttribute('aria-describedby', control.dataset.hint || '');
    if (!control.dataset.hint) control.removeAttribute('aria-describedby');
    return;
  }
  errorEl.append(icon('warning'), h('span', { text: message }));
  errorEl.hidden = false;
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-describedby', [control.dataset.hint, errorEl.id].filter(Boolean).join(' '));
}

/** clearErrors removes every field error and the alert in form. */
export function clearErrors(form, alert) {
  for (const c of form.querySelectorAll('[aria-invalid="true"]')) setFieldError(c, '');
  if (alert) setAlert(alert, '');
}

/**
 * showError puts an API error next to the field it names, if that field is
 * in form (and focuses it), or else in the form's alert box.
 */
export function showError(form, alert, err, { extra } = {}) {
  const control = err && err.field ? form.querySelector(`[name="${CSS.escape(err.field)}"]`) : null;
  if (control) {
    setFieldError(control, describe(err));
    control.focus();
    return;
  }
  setAlert(alert, describe(err), { extra });
  alert.scrollIntoView({ block: 'nearest' });
}

/** busy disables a submit button while a request runs and names the wait. */
export function busy(button, isBusy, busyText) {
  if (isBusy) {
    button.dataset.label = button.dataset.label || button.textContent;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    if (busyText) button.textContent = busyText;
  } else {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (button.dataset.label) button.textContent = button.dataset.label;
  }
}
