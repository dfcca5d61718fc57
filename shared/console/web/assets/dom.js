// DOM building without HTML strings: every piece of user data reaches the
// page as a text node, so a name like <img src=x onerror=alert(1)> is shown,
// never parsed.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h builds an element. attrs may hold: class, id, text (textContent), for,
 * dataset values as data-*, aria-* and any other attribute; boolean true
 * sets an empty attribute, false/null/undefined skips it; `on` maps event
 * names to listeners; `props` assigns DOM properties (value, checked...).
 * Children are nodes, strings (as text), arrays, or null (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'text') {
      el.textContent = String(value);
    } else if (key === 'on') {
      for (const [type, fn] of Object.entries(value)) el.addEventListener(type, fn);
    } else if (key === 'props') {
      Object.assign(el, value);
    } else if (key === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (/^on/i.test(key) || key === 'style' || key === 'innerHTML') {
      throw new Error(`h: refusing attribute ${key}`);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (nodes, strings as text, nested arrays) to el. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** clear removes every child of el. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

const ICONS = {
  // 16×16 stroke icons; each conveys meaning together with visible text.
  check: 'M3 8.5l3 3 7-7',
  cross: 'M4 4l8 8M12 4l-8 8',
  warning: 'M8 2l6.5 12h-13zM8 6.5v3.5M8 12v.5',
  clock: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM8 4.5V8l2.5 1.5',
  pause: 'M5.5 3.5v9M10.5 3.5v9',
  mail: 'M2 3.5h12v9H2zM2 4l6 5 6-5',
  info: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM8 7v4.5M8 4.5v.5',
  dots: 'M8 3v.5M8 8v.5M8 13v.5',
  lock: 'M4 7.5h8v6.5H4zM5.5 7.5V5a2.5 2.5 0 0 1 5 0v2.5',
  spinner: 'M8 1.75a6.25 6.25 0 1 0 6.25 6.25',
  ban: 'M8 1.75a6.25 6.25 0 1 0 0 12.5 6.25 6.25 0 0 0 0-12.5zM3.6 3.6l8.8 8.8',
  menu: 'M2.5 4h11M2.5 8h11M2.5 12h11',
  copy: 'M5.5 5.5h8v8h-8zM10.5 5.5v-3h-8v8h3',
};

/** icon returns a decorative SVG icon (hidden from assistive technology). */
export function icon(name, extraClass = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name} ${extraClass}`.trim());
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', ICONS[name] || ICONS.info);
  svg.append(p);
  return svg;
}

/** visuallyHidden is text read by screen readers but not shown. */
export function visuallyHidden(text) {
  return h('span', { class: 'visually-hidden', text });
}

let toastTimer = 0;

/**
 * toast shows a short, polite message in the page's status region (it is
 * announced by screen readers) and clears it after a while.
 */
export function toast(message, kind = 'info') {
  const region = document.getElementById('toast-region');
  if (!region) return;
  clearTimeout(toastTimer);
  const iconName = kind === 'error' ? 'warning' : kind === 'success' ? 'check' : 'info';
  region.replaceChildren(h('div', { class: `toast toast-${kind}` }, icon(iconName), h('span', { text: message })));
  toastTimer = setTimeout(() => region.replaceChildren(), kind === 'error' ? 12000 : 7000);
}

/** debounce delays fn until calls stop for ms milliseconds. */
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** codePoints counts a string the way the server's password policy does. */
export function codePoints(s) {
  return [...s].length;
}
