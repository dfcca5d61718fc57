package browsertest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rekey/rekey/infra/seed"
)

// signIn signs in with the mouse and waits for the signed-in shell.
func (tb *tab) signIn(username, pw string) {
	tb.t.Helper()
	tb.open("/")
	tb.fill("#signin-username", username)
	tb.fill("#signin-password", pw)
	tb.click("#signin-submit")
	// At narrow widths the menu hides behind #nav-toggle: wait for it to exist.
	tb.waitFor("the signed-in console", `!!document.querySelector('#nav')`)
}

// signInAdmin signs in as the district admin and waits for the students.
func (tb *tab) signInAdmin() {
	tb.t.Helper()
	tb.signIn(seed.DistrictAdminUsername, demoPassword)
	tb.waitUsersLoaded()
}

// waitUsersLoaded waits until the users table shows a page (or says it is empty).
func (tb *tab) waitUsersLoaded() {
	tb.t.Helper()
	tb.waitFor("the users list to load", `(() => {
  const t = document.querySelector('#users-table');
  if (!t || t.getAttribute('aria-busy') === 'true') return false;
  return document.querySelectorAll('#users-table tbody tr[data-user-id]').length > 0 || !document.querySelector('#users-empty').hidden;
})()`)
}

func TestSignInWithTheMouse(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	tb.open("/")
	tb.waitVisible("#signin-form")

	// A wrong password is refused with a message, not a dialog.
	tb.expectHTTP(http.StatusUnauthorized)
	tb.fill("#signin-username", seed.DistrictAdminUsername)
	tb.fill("#signin-password", "not the password at all")
	tb.click("#signin-submit")
	tb.waitFor("the sign-in error", `document.querySelector('#signin-error').textContent.trim() !== ''`)
	t.Logf("wrong password: %q", tb.text("#signin-error"))
	tb.screenshot("signin-error")

	tb.fill("#signin-password", demoPassword)
	tb.click("#signin-submit")
	tb.waitVisible("#nav")
	if who := tb.text("#signed-in-as"); !strings.Contains(who, "Dana Okafor") {
		t.Errorf("#signed-in-as = %q, want the district admin's name", who)
	}
	tb.waitUsersLoaded()
	if hash := evalT[string](tb, `location.hash`); hash != "#/users?tab=students" {
		t.Errorf("start page = %q, want #/users?tab=students", hash)
	}

	// Signing out returns to the sign-in screen with a notice.
	tb.click("#signout")
	tb.waitVisible("#signin-form")
	tb.waitText("#signin-notice", "signed out")
}

func TestSignInWithTheKeyboardOnly(t *testing.T) {
	t.Parallel()
	tb := newTab(t)
	tb.open("/")
	tb.waitVisible("#signin-form")

	// The username field has the focus as soon as the screen shows.
	tb.waitFor("the focus on the username field", `document.activeElement?.id === 'signin-username'`)
	tb.keys(seed.DistrictAdminUsername)
	tb.keys("\t")
	focused := evalT[struct {
		ID      string
		Visible bool
		Ring    string
	}](tb, `(() => {
  const el = document.activeElement;
  const s = getComputedStyle(el);
  return { id: el.id, visible: el.matches(':focus-visible'), ring: s.outlineStyle + ' ' + s.outlineWidth + ' / ' + s.boxShadow };
})()`)
	if focused.ID != "signin-password" {
		t.Fatalf("Tab from the username went to #%s, want #signin-password", focused.ID)
	}
	if !focused.Visible || focused.Ring == "none 0px / none" {
		t.Errorf("the focused password field shows no focus ring (:focus-visible %v, style %q)", focused.Visible, focused.Ring)
	}
	tb.screenshot("signin-keyboard-focus")
	tb.keys(demoPassword)
	tb.keys("\r")
	tb.waitVisible("#nav")
	tb.waitUsersLoaded()

	// After sign-in the focus moves to the new page's heading, so the next
	// Tab starts from the page and not from a removed form.
	if got := evalT[string](tb, `document.activeElement?.tagName + ' ' + (document.activeElement?.textContent || '').trim()`); got != "H1 Users" {
		t.Errorf("focus after sign-in is on %q, want the H1 Users heading", got)
	}
}

// TestANewTabStaysSignedIn: a tab opened after sign-in (same cookies, its
// own sessionStorage) is signed in and can make changes: signing out there
// ends the session, which the first tab sees on reload.
func TestANewTabStaysSignedIn(t *testing.T) {
	t.Parallel()
	first := newTab(t)
	first.signInAdmin()

	second := first.sibling()
	second.open("/#/users?tab=teachers")
	second.waitUsersLoaded()
	if who := second.text("#signed-in-as"); !strings.Contains(who, "Dana Okafor") {
		t.Errorf("the new tab shows %q, want the district admin signed in", who)
	}
	second.click("#signout")
	second.waitVisible("#signin-form")

	first.expectHTTP(http.StatusUnauthorized) // its GET /api/me finds the session ended
	first.open("/")
	first.waitVisible("#signin-form")
}
