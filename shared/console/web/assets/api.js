// The console's only door to the server: the HTTP API on the same origin.
// The session lives in an HttpOnly cookie the browser sends by itself; this
// module keeps the CSRF token handed out at sign-in (sessionStorage, never
// localStorage) and sends it with every state-changing request.

const CSRF_KEY = 'rekey.csrf';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** ApiError is a failed API call: HTTP status plus the API's error body. */
export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field || '';
  }
}

const handlers = {
  unauthenticated: () => {},
  passwordChangeRequired: () => {},
};

/**
 * onAuthProblem registers what to do when any call finds the session gone
 * (401, or a CSRF failure) or a forced password change pending (403
 * password_change_required).
 */
export function onAuthProblem({ unauthenticated, passwordChangeRequired }) {
  handlers.unauthenticated = unauthenticated;
  handlers.passwordChangeRequired = passwordChangeRequired;
}

export function csrfToken() {
  try {
    return sessionStorage.getItem(CSRF_KEY) || '';
  } catch {
    return '';
  }
}

export function setCsrfToken(token) {
  try {
    if (token) sessionStorage.setItem(CSRF_KEY, token);
    else sessionStorage.removeItem(CSRF_KEY);
  } catch {
    // Storage disabled: writes will fail with csrf_failed and ask to sign in.
  }
}

/** query builds "?a=1&b=2" from an object, skipping empty values. */
export function query(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * request calls the API and returns the decoded JSON body (null for 204).
 * It throws ApiError for any non-2xx answer and for network failures.
 * quiet: do not trigger the sign-in / forced-change handlers (used by the
 * sign-in and password pages, which handle those answers themselves).
 * raw: a body sent as it is (a file), with its own Content-Type header,
 * instead of body as JSON. An error's err.errors holds the row errors an
 * import's answer lists.
 */
export async function request(method, path, { body, raw, headers = {}, quiet = false } = {}) {
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json', ...headers },
  };
  if (raw !== undefined) {
    init.body = raw;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token) init.headers['X-CSRF-Token'] = token;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', '');
  }
  if (res.status === 204) return null;
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      data = await res.json();
    } catch {
      data = null;
    }
  }
  if (res.ok) return data;
  const e = (data && data.error) || {};
  const err = new ApiError(res.status, e.code || (res.status === 401 ? 'unauthenticated' : 'internal'), e.message, e.field);
  err.errors = (data && data.errors) || [];
  if (!quiet) {
    if (res.status === 401 || err.code === 'csrf_failed') handlers.unauthenticated(err);
    else if (res.status === 403 && err.code === 'password_change_required') handlers.passwordChangeRequired(err);
  }
  throw err;
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const patch = (path, body, opts = {}) => request('PATCH', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

/** newIdempotencyKey returns a random key for one logical submission. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

let schoolsPromise = null;

/** schools returns the schools in the actor's scope, fetched once per sign-in. */
export function schools() {
  if (!schoolsPromise) {
    schoolsPromise = get('/api/schools')
      .then((r) => (r && r.items) || [])
      .catch((err) => {
        schoolsPromise = null;
        if (err.status === 401 || err.status === 403) throw err;
        return [];
      });
  }
  return schoolsPromise;
}

let policyPromise = null;

/** DEFAULT_POLICY mirrors the server's defaults, used until the district's arrives. */
export const DEFAULT_POLICY = { minLengthStaff: 15, minLengthStudent: 8, maxLength: 128 };

/** passwordPolicy returns the district's password policy, or the defaults. */
export function passwordPolicy() {
  if (!policyPromise) {
    policyPromise = get('/api/password/policy', { quiet: true })
      .then((p) => ({ ...DEFAULT_POLICY, ...(p || {}) }))
      .catch(() => {
        policyPromise = null;
        return { ...DEFAULT_POLICY, guessed: true };
      });
  }
  return policyPromise;
}

/** forgetCaches drops per-session caches (on sign-out or a new sign-in). */
export function forgetCaches() {
  schoolsPromise = null;
  policyPromise = null;
}

/**
 * sendFile posts a file as its own body (text/csv or application/zip) and
 * returns the decoded JSON answer; errors as request's, with the import's
 * row errors on err.errors.
 */
export function sendFile(path, file, contentType) {
  return request('POST', path, { raw: file, headers: { 'Content-Type': contentType }, quiet: true });
}
