// Package browsertest drives the admin console in a real headless Chromium
// against the whole system running in process (infra/devstack): sign-in,
// forced password change, users, the record editor, resets by link and
// forgotten passwords, bulk resets and the task centre, schedules, text
// rendering of hostile names, an axe-core accessibility audit of every screen
// and the layout at 320 and 1920 pixels wide.
//
// The package has only tests. It needs /usr/bin/chromium (Debian's
// `chromium`, installed by `make test` when missing) and axe-core from npm
// (`npm ci --prefix infra/browsertest`, pinned in package-lock.json). Each
// screen is saved as a PNG under artifacts/screenshots/ at the repository
// root, to be looked at by a person.
package browsertest
