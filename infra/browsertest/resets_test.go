package browsertest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

func TestResetByLinkThenSetAPasswordFromTheEmail(t *testing.T) {
	t.Parallel()
	student := claimStudent(t, true)
	admin := apiAdmin(t)
	tb := adminTabAt(t, student)

	// The row's "⋮" menu opens the reset dialog, link mode chosen.
	tb.click("#actions-" + student.ID)
	tb.waitVisible("#row-menu")
	if exp := evalT[string](tb, `document.querySelector('#actions-`+student.ID+`').getAttribute('aria-expanded')`); exp != "true" {
		t.Errorf("the open menu's button has aria-expanded=%q", exp)
	}
	tb.screenshot("users-row-menu")
	tb.click("#row-menu-reset")
	tb.waitVisible("dialog#reset-dialog")
	if !evalT[bool](tb, `document.querySelector('#reset-mode-link').checked`) {
		t.Errorf("link mode is not chosen for a user with email")
	}
	mailBefore := len(stack.Mail())
	tb.click("#reset-submit")
	tb.waitVisible("#reset-result")
	if got := tb.text("#reset-result"); !strings.Contains(got, student.Email) {
		t.Errorf("#reset-result = %q, want it to name %s", got, student.Email)
	}
	tb.screenshot("reset-dialog-sent")
	tb.click("#reset-done")
	tb.waitGone("dialog#reset-dialog")
	if u := admin.user(student.ID); u.Status != rekey.StatusResetRequired {
		t.Errorf("after the reset the status is %q, want %q", u.Status, rekey.StatusResetRequired)
	}
	tb.waitText(`tr[data-user-id="`+student.ID+`"]`, "Reset pending")

	email := newestMailTo(t, student.Email, mailBefore)
	link := resetLinkIn(t, email)
	if !strings.HasPrefix(link, stack.URL+"/reset-password?token=") {
		t.Errorf("the emailed link %q is not on the console's origin %s", link, stack.URL)
	}

	// Opening the link (in the browser, and by a mail scanner's GET)
	// consumes nothing: the page takes the token out of the address bar and
	// waits for the form.
	look := newTab(t)
	look.openURL(link)
	look.waitVisible("#newpw-form")
	if loc := evalT[string](look, `location.href`); strings.Contains(loc, "token") {
		t.Errorf("the reset page keeps the token in the address bar: %s", loc)
	}
	look.screenshot("reset-page-from-email")
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("GET the link = %d, Referrer-Policy %q; want 200 no-referrer", resp.StatusCode, resp.Header.Get("Referrer-Policy"))
	}

	// Later, in a fresh browser, the form redeems the same link.
	const chosen = "lanterns over the harbour at dusk"
	redeem := newTab(t)
	redeem.openURL(link)
	redeem.waitVisible("#newpw-form")
	redeem.fill("#newpw-password", chosen)
	redeem.click("#newpw-submit")
	redeem.waitVisible("#newpw-done")
	redeem.screenshot("reset-page-done")
	redeem.click("#newpw-signin")
	redeem.waitVisible("#signin-form")
	redeem.fill("#signin-username", student.Username)
	redeem.fill("#signin-password", chosen)
	redeem.click("#signin-submit")
	redeem.waitVisible("#account-details")
	if u := admin.user(student.ID); u.Status != rekey.StatusActive {
		t.Errorf("after redeeming the link the status is %q, want active", u.Status)
	}

	// The used link says so before anyone types, with a way forward.
	again := newTab(t)
	again.expectHTTP(http.StatusBadRequest)
	again.openURL(link)
	again.waitText("#newpw-spent", "This link was used or has expired")
	if !evalT[bool](again, `document.querySelector('#newpw-form').hidden`) {
		t.Errorf("the password form shows for a used link")
	}
	again.screenshot("reset-page-used-link")
	again.click("#newpw-spent-new-link")
	again.waitVisible("#forgot-form")
}
