// Action menus ("⋮"): a real button with aria-haspopup that opens a list of
// menu items. Arrow keys move, Home/End jump, Escape or Tab closes, and focus
// goes back to the button. The list is positioned against the viewport so a
// scrolling table never clips it.

import { h, icon } from './dom.js';

let openMenu = null;

function closeOpenMenu(returnFocus) {
  if (openMenu) openMenu.close(returnFocus);
}

document.addEventListener('pointerdown', (e) => {
  if (openMenu && !openMenu.contains(e.target)) closeOpenMenu(false);
});
window.addEventListener('resize', () => closeOpenMenu(false));
window.addEventListener('hashchange', () => closeOpenMenu(false));

/**
 * menuButton returns a button that opens a menu of items
 * [{ id, label, onSelect, disabled }]. label is the button's accessible
 * name (e.g. "Actions for Ada Lovelace"); text is its visible text.
 */
export function menuButton({ id, label, text = '', items, menuId = 'row-menu', className = 'icon-button' }) {
  const button = h(
    'button',
    { type: 'button', id, class: className, 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': label },
    text ? h('span', { text }) : icon('dots'),
  );
  button.addEventListener('click', () => {
    if (button.getAttribute('aria-expanded') === 'true') closeOpenMenu(true);
    else open(0);
  });
  button.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      open(e.key === 'ArrowUp' ? -1 : 0);
    }
  });

  function open(focusIndex) {
    closeOpenMenu(false);
    const list = h('ul', { id: menuId, class: 'menu', role: 'menu', 'aria-label': label });
    const entries = items.filter(Boolean).map((item) => {
      const el = h('button', {
        type: 'button',
        role: 'menuitem',
        id: item.id || null,
        class: 'menu-item',
        tabindex: '-1',
        'aria-disabled': item.disabled ? 'true' : null,
        text: item.label,
      });
      el.addEventListener('click', () => {
        if (item.disabled) return;
        close(true);
        item.onSelect();
      });
      list.append(h('li', { role: 'none' }, el));
      return el;
    });
    list.addEventListener('keydown', (e) => {
      const i = entries.indexOf(document.activeElement);
      let next = null;
      if (e.key === 'ArrowDown') next = (i + 1) % entries.length;
      else if (e.key === 'ArrowUp') next = (i - 1 + entries.length) % entries.length;
      else if (e.key === 'Home') next = 0;
      else if (e.key === 'End') next = entries.length - 1;
      else if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        close(true);
        return;
      } else if (e.key === 'Tab') {
        close(false);
        button.focus();
        return;
      } else if (e.key.length === 1 && /\S/.test(e.key)) {
        const k = e.key.toLowerCase();
        const start = i + 1;
        for (let j = 0; j < entries.length; j++) {
          const cand = entries[(start + j) % entries.length];
          if (cand.textContent.trim().toLowerCase().startsWith(k)) {
            next = entries.indexOf(cand);
            break;
          }
        }
      }
      if (next !== null) {
        e.preventDefault();
        entries[next].focus({ preventScroll: true });
      }
    });
    // Inside a modal dialog the menu must live in the dialog's top layer;
    // elsewhere it stays inside the page's landmark (main) for screen readers.
    const host = button.closest('dialog') || button.closest('main') || document.body;
    host.append(list);
    button.setAttribute('aria-expanded', 'true');
    button.setAttribute('aria-controls', menuId);
    place(list);
    const state = {
      contains: (node) => list.contains(node) || button.contains(node),
      close,
      follow: () => {
        // Keep the menu beside its button while the page or a table scrolls;
        // close it once the button is out of sight.
        const r = button.getBoundingClientRect();
        if (r.bottom < 0 || r.top > window.innerHeight || r.right < 0 || r.left > window.innerWidth) close(false);
        else place(list);
      },
    };
    openMenu = state;
    function close(returnFocus) {
      if (openMenu !== state) return;
      openMenu = null;
      list.remove();
      button.setAttribute('aria-expanded', 'false');
      button.removeAttribute('aria-controls');
      if (returnFocus) button.focus();
    }
    const target = entries.at(focusIndex) || entries[0];
    if (target) target.focus({ preventScroll: true });
  }

  function place(list) {
    // CSSOM assignments (not style attributes in markup) are allowed by the CSP.
    const r = button.getBoundingClientRect();
    const width = list.offsetWidth;
    const height = list.offsetHeight;
    const left = Math.max(8, Math.min(r.right - width, window.innerWidth - width - 8));
    let top = r.bottom + 4;
    if (top + height > window.innerHeight - 8 && r.top - height - 4 > 8) top = r.top - height - 4;
    list.style.left = `${Math.round(left)}px`;
    list.style.top = `${Math.round(top)}px`;
  }

  return button;
}

/** closeMenus closes any open menu (e.g. when the screen changes). */
export function closeMenus() {
  closeOpenMenu(false);
}

let scrollFrame = 0;
window.addEventListener(
  'scroll',
  () => {
    if (!openMenu || scrollFrame) return;
    scrollFrame = requestAnimationFrame(() => {
      scrollFrame = 0;
      if (openMenu) openMenu.follow();
    });
  },
  true,
);
