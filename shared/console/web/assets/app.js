// The console app: boots the session, draws the shell (menu + main area)
// and routes between screens with the URL hash (#/users?tab=students).
// Screens are separate modules loaded when first visited, so the sign-in
// screen needs only this file and a few small helpers.

import { h, clear, icon, toast } from './dom.js';
import * as api from './api.js';
import { roleLabel, fullName, ROLE_RANK } from './format.js';
import { closeMenus } from './menu.js';
import { renderSignIn, renderForcedChange } from './signin.js';

const root = document.getElementById('app');

const session = {
  user: null,
};

/** NAV lists the menu entries and who may see them (minimum role rank). */
const NAV = [
  { id: 'nav-users', route: 'users', href: '#/users', label: 'Users', minRank: 2 },
  { id: 'nav-bulk', route: 'bulk', href: '#/bulk', label: 'Bulk reset', minRank: 2 },
  { id: 'nav-imports', route: 'imports', href: '#/imports', label: 'Import', minRank: 3 },
  { id: 'nav-tasks', route: 'tasks', href: '#/tasks', label: 'Tasks', minRank: 2 },
  { id: 'nav-schedules', route: 'schedules', href: '#/schedules', label: 'Schedules', minRank: 3 },
  { id: 'nav-settings', route: 'settings', href: '#/settings', label: 'Settings', minRank: 4, roles: ['district_admin'] },
  { id: 'nav-children', route: 'children', href: '#/children', label: 'My children', minRank: 1, roles: ['guardian'] },
  { id: 'nav-account', route: 'account', href: '#/account', label: 'My account', minRank: 1 },
];

/** ROUTES maps the first hash segment to the module that draws it. */
const ROUTES = {
  users: { load: () => import('./users.js'), title: 'Users', minRank: 2 },
  activity: { load: () => import('./activity.js'), title: 'Activity', minRank: 2 },
  // Teachers bulk-reset their own school's students (the API intersects
  // every selection with their scope) and follow their own tasks.
  bulk: { load: () => import('./bulk.js'), title: 'Bulk reset', minRank: 2 },
  imports: { load: () => import('./imports.js'), title: 'Import users', minRank: 3 },
  tasks: { load: () => import('./tasks.js'), title: 'Tasks', minRank: 2 },
  schedules: { load: () => import('./schedules.js'), title: 'Schedules', minRank: 3 },
  settings: { load: () => import('./settings.js'), title: 'District settings', minRank: 4, roles: ['district_admin'] },
  account: { load: () => import('./account.js'), title: 'My account', minRank: 1 },
  children: { load: () => import('./children.js'), title: 'My children', minRank: 1, roles: ['guardian'] },
};

/**
 * DIALOGS are the screens that open over another screen (the record editor,
 * one user's reset). The shell loads them when first used, as it loads
 * ROUTES, and hands them to screens as ctx.dialogs: a screen never imports
 * another screen.
 */
const DIALOGS = {
  openEditor: (...args) => import('./editor.js').then((m) => m.openEditor(...args)),
  openResetDialog: (...args) => import('./userreset.js').then((m) => m.openResetDialog(...args)),
  resendEmail: (...args) => import('./userreset.js').then((m) => m.resendEmail(...args)),
  openNewUser: (...args) => import('./newuser.js').then((m) => m.openNewUser(...args)),
};

let shell = null;
let current = null; // { cleanup }
let routeSeq = 0;
let lastRouted = null; // the hash the current screen was drawn for

/** parseHash splits "#/users/abc/activity?tab=x" into parts and query. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(qs) };
}

function rank() {
  return ROLE_RANK[session.user?.role] || 0;
}

/** mayUse says whether the signed-in user may see a menu entry or route: rank, and roles when it names some. */
function mayUse(def) {
  return rank() >= def.minRank && (!def.roles || def.roles.includes(session.user?.role));
}

function homeHash() {
  if (session.user?.role === 'guardian') return '#/children';
  return rank() >= 2 ? '#/users?tab=students' : '#/account';
}

// ---- auth flow ------------------------------------------------------------

api.onAuthProblem({
  unauthenticated: () => {
    if (!session.user) return;
    signedOut('Your session has ended. Sign in again to continue.');
  },
  passwordChangeRequired: () => showForcedChange(),
});

async function boot() {
  try {
    if (!api.csrfToken()) {
      // A tab opened after sign-in has the session cookie but not yet the
      // CSRF token: ask for it (null when there is no session).
      const { csrfToken } = await api.get('/api/auth/csrf', { quiet: true });
      if (!csrfToken) {
        showSignIn();
        return;
      }
      api.setCsrfToken(csrfToken);
    }
    const me = await api.get('/api/me', { quiet: true });
    session.user = me;
    if (me.mustChangePassword) showForcedChange();
    else showApp();
  } catch (err) {
    if (err.status === 403 && err.code === 'password_change_required') {
      showForcedChange();
    } else if (err.code === 'network' || err.status >= 500) {
      showBootError();
    } else {
      api.setCsrfToken('');
      showSignIn();
    }
  }
}

function showBootError() {
  clear(root);
  const retry = h('button', { type: 'button', class: 'button primary', id: 'boot-retry', text: 'Try again' });
  retry.addEventListener('click', boot);
  root.append(
    h(
      'main',
      { id: 'main', class: 'public-main', tabindex: '-1' },
      h('div', { class: 'card narrow' }, h('h1', { text: 'Rekey cannot be reached' }), h('p', { text: 'Check your connection, then try again.' }), retry),
    ),
  );
}

function showSignIn(notice) {
  teardownScreen();
  shell = null;
  session.user = null;
  document.title = 'Sign in — Rekey';
  renderSignIn(root, {
    notice,
    onSignedIn: (result) => {
      api.forgetCaches();
      api.setCsrfToken(result.csrfToken);
      session.user = result.user;
      if (result.mustChangePassword || result.user?.mustChangePassword) showForcedChange();
      else showApp();
    },
  });
}

function showForcedChange() {
  teardownScreen();
  shell = null;
  document.title = 'Choose a new password — Rekey';
  renderForcedChange(root, {
    user: session.user,
    onChanged: () => signedOut('Your password was changed. Sign in again with your new password.', 'success'),
    onSignOut: () => signOut(),
  });
}

function signedOut(notice, kind = 'info') {
  api.setCsrfToken('');
  api.forgetCaches();
  session.user = null;
  showSignIn({ text: notice, kind });
}

async function signOut() {
  try {
    await api.post('/api/auth/logout', undefined, { quiet: true });
  } catch {
    // The session may already be gone; the outcome is the same.
  }
  signedOut('You have signed out.');
}

// ---- shell ----------------------------------------------------------------

function showApp() {
  clear(root);
  const nav = h('nav', { id: 'nav', class: 'nav', 'aria-label': 'Main' });
  const list = h('ul', { class: 'nav-list' });
  for (const item of NAV) {
    if (!mayUse(item)) continue;
    list.append(h('li', {}, h('a', { id: item.id, href: item.href, class: 'nav-link', 'data-route': item.route, text: item.label })));
  }
  const signOutButton = h('button', { type: 'button', id: 'signout', class: 'nav-link nav-signout', text: 'Sign out' });
  signOutButton.addEventListener('click', signOut);
  list.append(h('li', {}, signOutButton));
  const who = session.user || {};
  nav.append(
    list,
    h('p', { class: 'signed-in', id: 'signed-in-as' }, 'Signed in as ', h('strong', { text: fullName(who) }), h('br'), h('span', { text: roleLabel(who.role) })),
  );
  const toggle = h(
    'button',
    { type: 'button', id: 'nav-toggle', class: 'button nav-toggle', 'aria-expanded': 'false', 'aria-controls': 'nav' },
    icon('menu'),
    h('span', { text: 'Menu' }),
  );
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    nav.classList.toggle('open', open);
  });
  nav.addEventListener('click', (e) => {
    if (e.target.closest('a')) {
      toggle.setAttribute('aria-expanded', 'false');
      nav.classList.remove('open');
    }
  });
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const skip = document.querySelector('.skip-link');
  if (skip) skip.hidden = false;
  root.append(
    h('div', { class: 'layout' }, h('header', { class: 'sidebar' }, h('div', { class: 'brand-row' }, h('a', { class: 'brand', href: homeHash(), text: 'Rekey' }), toggle), nav), main),
  );
  shell = { main, nav };
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', homeHash());
  // Focus the new page's heading: the sign-in form that had focus is gone.
  route(true);
}

function teardownScreen() {
  closeMenus();
  if (current && current.cleanup) {
    try {
      current.cleanup();
    } catch {
      // A screen that fails to clean up must not block navigation.
    }
  }
  current = null;
}

async function route(moveFocus = true) {
  if (!shell || !session.user) return;
  const seq = ++routeSeq;
  lastRouted = location.hash;
  const { parts, query } = parseHash();
  const key = parts[0] || '';
  // #/users/{id}/activity and #/tasks/{id} are sub-pages of their section.
  const def = key === 'users' && parts[2] === 'activity' ? ROUTES.activity : key === 'activity' ? null : ROUTES[key];
  teardownScreen();
  for (const a of shell.nav.querySelectorAll('a.nav-link')) {
    if (a.dataset.route === key) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = shell.main;
  if (def && !mayUse(def)) {
    // A screen this role cannot use (e.g. left in the address bar by someone
    // else's session): go to this user's start page instead.
    history.replaceState(null, '', homeHash());
    route(moveFocus);
    return;
  }
  main.setAttribute('aria-busy', 'true');
  if (!def) {
    clear(main);
    main.removeAttribute('aria-busy');
    document.title = 'Not found — Rekey';
    main.append(
      h('h1', { tabindex: '-1', text: 'Page not found' }),
      h('p', {}, 'There is nothing at this address. ', h('a', { href: homeHash(), text: 'Go to the start page' }), '.'),
    );
    if (moveFocus) main.querySelector('h1').focus();
    return;
  }
  let mod;
  try {
    mod = await def.load();
  } catch {
    if (seq !== routeSeq) return;
    clear(main);
    main.removeAttribute('aria-busy');
    main.append(h('h1', { tabindex: '-1', text: 'This page did not load' }), h('p', { text: 'Check your connection and reload the page.' }));
    return;
  }
  if (seq !== routeSeq) return;
  clear(main);
  main.removeAttribute('aria-busy');
  document.title = `${def.title} — Rekey`;
  const ctx = {
    user: session.user,
    rank: rank(),
    parts,
    query,
    setTitle: (t) => {
      document.title = `${t} — Rekey`;
    },
    /** setQuery rewrites the hash's query without re-drawing the screen. */
    setQuery: (params, push = false) => {
      const q = api.query(params);
      const next = `#/${parts.map(encodeURIComponent).join('/')}${q}`;
      if (next !== location.hash) history[push ? 'pushState' : 'replaceState'](null, '', next);
      lastRouted = location.hash;
    },
    navigate: (hash) => {
      if (location.hash === hash) route();
      else location.hash = hash;
    },
    toast,
    dialogs: DIALOGS,
    /** endSession returns to sign-in, e.g. after the password changed. */
    endSession: (text, kind) => signedOut(text, kind),
  };
  const cleanup = mod.mount(main, ctx);
  current = { cleanup };
  if (moveFocus) {
    const heading = main.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: false });
    }
  }
}

// Link clicks fire hashchange; back/forward over pushState entries fire
// popstate (browsers differ in which fire when): route once per new address.
function onLocationChange() {
  if (location.hash === lastRouted) return;
  route(true);
}
window.addEventListener('hashchange', onLocationChange);
window.addEventListener('popstate', onLocationChange);

document.addEventListener('click', (e) => {
  const skip = e.target.closest('.skip-link');
  if (!skip) return;
  e.preventDefault();
  const main = document.getElementById('main');
  if (main) main.focus();
});

boot();
