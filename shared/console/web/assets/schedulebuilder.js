// The "when" of a schedule: a builder for the common cases — once at a date
// and time, every week on chosen days, every year on a date — that writes
// the EventBridge cron() expression, and the raw expression for anything
// else. The expression the builder writes is always shown, so what is saved
// is never hidden. "Once" is a cron() with its year (it fires one time);
// the server refuses one whose moment has passed.

import { h } from './dom.js';
import { field, radios, checkbox, setFieldError } from './form.js';

/** DAYS are EventBridge's day names, Monday first. */
export const DAYS = [
  ['MON', 'Monday'],
  ['TUE', 'Tuesday'],
  ['WED', 'Wednesday'],
  ['THU', 'Thursday'],
  ['FRI', 'Friday'],
  ['SAT', 'Saturday'],
  ['SUN', 'Sunday'],
];

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pad = (n) => String(n).padStart(2, '0');

/**
 * toExpression turns a builder state into a cron() expression. It returns
 * { expression } or { field, error } naming what to fix.
 */
export function toExpression(s) {
  const t = /^(\d{2}):(\d{2})$/.exec(s.time || '');
  if (s.kind !== 'custom' && !t) return { field: 'time', error: 'Give a time, such as 07:00.' };
  const [hh, mm] = t ? [Number(t[1]), Number(t[2])] : [0, 0];
  switch (s.kind) {
    case 'once': {
      const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s.date || '');
      if (!d) return { field: 'date', error: 'Give a date.' };
      return { expression: `cron(${mm} ${hh} ${Number(d[3])} ${Number(d[2])} ? ${d[1]})` };
    }
    case 'weekly': {
      const days = DAYS.map(([d]) => d).filter((d) => (s.days || []).includes(d));
      if (!days.length) return { field: 'days', error: 'Choose at least one day.' };
      return { expression: `cron(${mm} ${hh} ? * ${days.join(',')} *)` };
    }
    case 'yearly': {
      const month = Number(s.month);
      const day = Number(s.day);
      const last = new Date(Date.UTC(2024, month, 0)).getUTCDate(); // 2024: 29 February exists
      if (!(month >= 1 && month <= 12)) return { field: 'month', error: 'Choose a month.' };
      if (!(day >= 1 && day <= last)) return { field: 'day', error: `${MONTHS[month - 1]} has ${last} days.` };
      return { expression: `cron(${mm} ${hh} ${day} ${month} ? *)` };
    }
    default: {
      const expr = (s.expression || '').trim();
      if (!/^cron\(\S+( \S+){5}\)$/.test(expr) && !/^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$/.test(expr)) {
        return { field: 'expression', error: 'Use cron(…) with six fields, or rate(…) such as rate(7 days).' };
      }
      return { expression: expr };
    }
  }
}

/**
 * fromExpression reads an expression the builder could have written back
 * into a builder state; anything else is { kind: 'custom', expression }.
 */
export function fromExpression(expr) {
  const m = /^cron\((\d{1,2}) (\d{1,2}) (\S+) (\S+) (\S+) (\S+)\)$/.exec((expr || '').trim());
  const custom = { kind: 'custom', expression: expr || '' };
  if (!m) return custom;
  const [, mm, hh, dom, mon, dow, year] = m;
  const time = `${pad(hh)}:${pad(mm)}`;
  if (Number(mm) > 59 || Number(hh) > 23) return custom;
  if (dom === '?' && mon === '*' && year === '*' && /^[A-Z]{3}(,[A-Z]{3})*$/.test(dow)) {
    const days = dow.split(',');
    if (days.every((d) => DAYS.some(([x]) => x === d))) return { kind: 'weekly', days, time };
  }
  if (/^\d{1,2}$/.test(dom) && /^\d{1,2}$/.test(mon) && dow === '?') {
    if (year === '*') return { kind: 'yearly', month: String(Number(mon)), day: String(Number(dom)), time };
    if (/^\d{4}$/.test(year)) return { kind: 'once', date: `${year}-${pad(mon)}-${pad(dom)}`, time };
  }
  return custom;
}

/** describeWhen gives a builder state in words ('' for a custom expression). */
export function describeWhen(s) {
  switch (s.kind) {
    case 'once':
      return `Once, on ${s.date} at ${s.time}`;
    case 'weekly': {
      const names = DAYS.filter(([d]) => s.days.includes(d)).map(([, n]) => n);
      return `Every ${names.length === 7 ? 'day' : new Intl.ListFormat('en', { type: 'conjunction' }).format(names)} at ${s.time}`;
    }
    case 'yearly':
      return `Every ${Number(s.day)} ${MONTHS[Number(s.month) - 1]} at ${s.time}`;
    default:
      return '';
  }
}

/**
 * buildWhen draws the builder. prefix names the ids (`${prefix}-when-weekly`,
 * `${prefix}-time`, `${prefix}-day-MON`, `${prefix}-expression`, ...).
 * It returns { el, expression() } where expression() is the expression to
 * save, or null after marking the field to fix.
 */
export function buildWhen(prefix, { expression = '', examples = [] } = {}) {
  const start = expression ? fromExpression(expression) : { kind: 'weekly', days: ['MON'], time: '07:00' };
  const kind = radios({
    idPrefix: `${prefix}-when`,
    name: `${prefix}-when`,
    legend: 'When',
    value: start.kind,
    options: [
      { value: 'once', label: 'Once' },
      { value: 'weekly', label: 'Every week' },
      { value: 'yearly', label: 'Every year' },
      { value: 'custom', label: 'Custom expression' },
    ],
  });
  const date = field({ id: `${prefix}-date`, name: 'date', label: 'Date', type: 'date', value: start.date || '' });
  const time = field({ id: `${prefix}-time`, name: 'time', label: 'Time', type: 'time', value: start.time || '07:00', hint: 'In the time zone below.' });
  const dayBoxes = DAYS.map(([d, n]) => checkbox({ id: `${prefix}-day-${d}`, name: `${prefix}-day`, label: n, checked: (start.days || []).includes(d) }));
  const days = h('fieldset', { class: 'day-picker', id: `${prefix}-days` }, h('legend', { text: 'On' }), ...dayBoxes, h('p', { id: `${prefix}-days-error`, class: 'field-error', hidden: true }));
  const month = field({ id: `${prefix}-month`, name: 'month', label: 'Month', type: 'select', value: start.month || '9', options: MONTHS.map((m, i) => ({ value: String(i + 1), label: m })) });
  const day = field({ id: `${prefix}-day`, name: 'day', label: 'Day', type: 'select', value: start.day || '1', options: Array.from({ length: 31 }, (_, i) => ({ value: String(i + 1), label: String(i + 1) })) });
  const raw = field({
    id: `${prefix}-expression`,
    name: 'expression',
    label: 'Expression',
    autocomplete: 'off',
    spellcheck: 'false',
    value: start.kind === 'custom' ? start.expression : '',
    hint: 'An EventBridge expression: cron(minutes hours day-of-month month day-of-week year) or rate(7 days), at most once an hour. Times are in the time zone below.',
  });
  if (examples.length) {
    const list = h('div', { class: 'examples', id: `${prefix}-examples` }, h('span', { class: 'muted', text: 'Examples: ' }));
    for (const ex of examples) {
      const b = h('button', { type: 'button', class: 'button small', text: ex.label });
      b.addEventListener('click', () => {
        raw.control.value = ex.expression;
        setFieldError(raw.control, '');
        raw.control.focus();
        refresh();
      });
      list.append(b);
    }
    raw.append(list);
  }
  const preview = h('code', { id: `${prefix}-expression-preview` });
  const words = h('span', { id: `${prefix}-when-words` });
  const previewLine = h('p', { class: 'muted', id: `${prefix}-expression-line` }, words, ' ', h('span', { text: 'Saved as ' }), preview);
  const onceRow = h('div', { class: 'field-row' }, date);
  const yearlyRow = h('div', { class: 'field-row' }, month, day);
  const el = h('div', { class: 'when' }, kind, onceRow, days, yearlyRow, time, raw, previewLine);

  function state() {
    return {
      kind: kind.value(),
      date: date.control.value,
      time: time.control.value,
      days: DAYS.map(([d]) => d).filter((d) => document.getElementById(`${prefix}-day-${d}`)?.checked),
      month: month.control.value,
      day: day.control.value,
      expression: raw.control.value,
    };
  }

  function refresh() {
    const k = kind.value();
    onceRow.hidden = k !== 'once';
    days.hidden = k !== 'weekly';
    yearlyRow.hidden = k !== 'yearly';
    time.hidden = k === 'custom';
    raw.hidden = k !== 'custom';
    const s = state();
    const out = toExpression(s);
    preview.textContent = out.expression || '—';
    words.textContent = out.expression ? describeWhen(s) + (describeWhen(s) ? '.' : '') : '';
  }
  el.addEventListener('input', refresh);
  el.addEventListener('change', refresh);
  refresh();

  const controls = { date: date.control, time: time.control, month: month.control, day: day.control, expression: raw.control };
  return {
    el,
    expression() {
      for (const c of Object.values(controls)) setFieldError(c, '');
      const daysError = document.getElementById(`${prefix}-days-error`);
      daysError.hidden = true;
      const out = toExpression(state());
      if (out.expression) return out.expression;
      if (out.field === 'days') {
        daysError.textContent = out.error;
        daysError.hidden = false;
        document.getElementById(`${prefix}-day-MON`).focus();
      } else {
        setFieldError(controls[out.field], out.error);
        controls[out.field].focus();
      }
      return null;
    },
    /** showError puts a server error about the expression next to the control that made it. */
    showError(message) {
      const k = kind.value();
      const c = k === 'custom' ? raw.control : k === 'once' ? date.control : time.control;
      setFieldError(c, message);
      c.focus();
    },
  };
}
