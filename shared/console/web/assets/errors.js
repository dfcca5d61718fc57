// The one place that turns API error codes into words for people. The codes
// are the server's (shared/rekey/error.go); the server's own message is used
// when it exists, and these texts fill in when it does not or when the
// console can say something more useful about what to do next.

/** Friendly text per error code, used when the server sent no message. */
const FALLBACK = {
  internal: 'Something went wrong on our side. Try again in a moment.',
  invalid_input: 'Check the highlighted field.',
  invalid_json: 'The request could not be read. Reload the page and try again.',
  body_too_large: 'That request is too large. Select fewer users or narrow the filters.',
  unknown_field: 'The request had a field the server does not accept. Reload the page and try again.',
  invalid_cursor: 'That page is no longer available. Start again from the first page.',
  invalid_id: 'That link is not valid.',
  not_found: 'Not found. It may have been removed, or it is outside your district or school.',
  unauthenticated: 'Your session has ended. Sign in again.',
  invalid_credentials: 'The username or password is not right.',
  password_reset_required:
    'An administrator reset your password. Use the link in your email, or ask for a new one with "Forgot password".',
  password_change_required: 'Choose a new password to continue.',
  too_many_attempts: 'Too many attempts. Wait a few minutes and try again.',
  forbidden: 'You do not have permission to do that.',
  csrf_failed: 'Your session in this tab has expired. Sign in again to continue.',
  version_conflict: 'Someone else changed this record while you were editing it.',
  username_taken: 'That username is already in use.',
  email_taken: 'That email address is already in use.',
  weak_password: 'Choose a stronger password.',
  invalid_token: 'This link has expired or was already used. Ask for a new one.',
  invalid_code: 'That parent code is not valid. Codes work once and expire after 30 days; ask your child or the school for a new one.',
  no_email: 'This user has no email address, so a link cannot be sent. Set a temporary password instead.',
  no_pending_reset: 'There is no reset link waiting for this user. Use "Reset password" to send one.',
  method_not_allowed: 'That action is not available.',
  unsupported_media_type: 'The request could not be read. Reload the page and try again.',
  conflict: 'Something changed at the same time. Try again.',
  results_too_large: 'The results file is too large to download in one piece. Read the results on the task page instead.',
  unknown_action: 'That action is not offered here. Reload the page and try again.',
  nothing_to_follow_up: 'Nobody is left for this follow-up: every user it would reach is done.',
  idempotency_key_reused: 'This form was already sent with other choices. Reload the page and start again.',
  external_id_taken: 'Another user of the district already has that external id.',
  import_too_large: 'That file is too large to send directly. It will be uploaded first; try again.',
  import_invalid: 'The file has errors, so nothing was imported. Correct the rows listed and upload it again.',
  self_approval: 'You started this reset, so someone else must approve it.',
  not_awaiting_approval: 'This task is no longer waiting for approval. Reload to see where it stands.',
  network: 'Rekey cannot be reached. Check your connection and try again.',
};

/** Codes whose fixed text is better than any server message for the console. */
const PREFER_FALLBACK = new Set(['invalid_credentials', 'csrf_failed', 'network', 'internal']);

/** describe returns the text to show for an error thrown by api.js. */
export function describe(err) {
  if (!err) return '';
  const code = err.code || 'internal';
  if (!PREFER_FALLBACK.has(code) && err.message && err.message !== 'Internal error.') return err.message;
  return FALLBACK[code] || err.message || FALLBACK.internal;
}

/** fallbackText returns the console's own text for a code. */
export function fallbackText(code) {
  return FALLBACK[code] || FALLBACK.internal;
}
