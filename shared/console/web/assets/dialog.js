// Modal dialogs on the native <dialog> element: showModal() makes the rest
// of the page inert, Escape closes, Tab cycles inside, and focus returns to
// whatever opened the dialog.

import { h, icon } from './dom.js';

let counter = 0;

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** focusables lists the elements Tab can reach inside root, in order. */
export function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
}

/**
 * openDialog shows a modal dialog. content is a node (or array of nodes);
 * variant "panel" slides in from the side for long forms. It returns
 * { el, body, close }. onClose runs once, after the dialog is gone.
 */
export function openDialog({ id, title, content, variant = 'modal', onClose, initialFocus, description }) {
  const n = ++counter;
  const titleId = `${id || 'dialog'}-title-${n}`;
  const opener = document.activeElement;
  const closeButton = h('button', { type: 'button', class: 'icon-button dialog-close', 'aria-label': 'Close' }, icon('cross'));
  const body = h('div', { class: 'dialog-body' }, content);
  const el = h(
    'dialog',
    { id, class: `dialog dialog-${variant}`, 'aria-labelledby': titleId, 'aria-describedby': description || null },
    h('div', { class: 'dialog-head' }, h('h2', { id: titleId, class: 'dialog-title', text: title }), closeButton),
    body,
  );
  let closed = false;
  const close = (value) => {
    if (closed) return;
    el.returnValue = value === undefined ? '' : String(value);
    el.close();
  };
  closeButton.addEventListener('click', () => close('cancel'));
  el.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const items = focusables(el);
    if (items.length === 0) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  });
  el.addEventListener('close', () => {
    if (closed) return;
    closed = true;
    el.remove();
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    if (onClose) onClose(el.returnValue);
  });
  document.body.append(el);
  el.showModal();
  const target = typeof initialFocus === 'function' ? initialFocus(el) : initialFocus;
  if (target) target.focus();
  else {
    const first = focusables(body)[0];
    (first || closeButton).focus();
  }
  return { el, body, close };
}

/**
 * confirmDialog asks a yes/no question and resolves true only when the
 * confirm button is pressed. Cancel has the initial focus, so a hurried
 * Enter never starts a destructive action.
 */
export function confirmDialog({ title, message, details, confirmLabel = 'Confirm', cancelLabel = 'Cancel', danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const ok = h('button', { type: 'button', id: 'confirm-ok', class: danger ? 'button danger' : 'button primary', text: confirmLabel });
    const cancel = h('button', { type: 'button', id: 'confirm-cancel', class: 'button', text: cancelLabel });
    const msg = h('p', { id: 'confirm-message', class: 'confirm-message', text: message });
    const d = openDialog({
      id: 'confirm-dialog',
      title,
      description: 'confirm-message',
      content: [msg, details || null, h('div', { class: 'dialog-actions' }, cancel, ok)],
      initialFocus: cancel,
      onClose: () => resolve(answer),
    });
    ok.addEventListener('click', () => {
      answer = true;
      d.close('ok');
    });
    cancel.addEventListener('click', () => d.close('cancel'));
  });
}
