package browsertest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rekey/rekey/infra/devstack"
)

// TestLocalMailViewer: the local runner's /_local/mail in a browser lists
// the mail newest first, opens a message (its HTML in a frame where no
// script runs, its text with live links), and its text's link is the
// email's reset link.
func TestLocalMailViewer(t *testing.T) {
	t.Parallel()
	student := claimStudent(t, true)
	mailBefore := len(stack.Mail())
	apiAdmin(t).must(http.StatusAccepted, "POST", "/api/users/"+student.ID+"/password-reset", map[string]string{"mode": "link"}, nil)
	email := newestMailTo(t, student.Email, mailBefore)
	n := slices.IndexFunc(stack.Mail(), func(m devstack.SentEmail) bool { return m.MessageID == email.MessageID })
	if email.MessageID == "" || n < 0 {
		t.Fatalf("the email to %s has message id %q, at %d in the mailbox", student.Email, email.MessageID, n)
	}

	tb := newTab(t)
	tb.open("/_local/mail")
	tb.waitVisible("#mail-list")
	order := evalT[[]string](tb, `[...document.querySelectorAll('#mail-list tbody a')].map((a) => a.getAttribute('href').split('/').pop())`)
	if !slices.IsSortedFunc(order, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return y - x }) || len(order) <= n {
		t.Errorf("the list's messages are %v, want every one, newest first", order)
	}
	tb.screenshot("local-mail-list")

	tb.click(fmt.Sprintf(`#mail-list a[href="/_local/mail/%d"]`, n))
	tb.waitVisible("#mail-html")
	if id := tb.text("#mail-message-id"); id != email.MessageID {
		t.Errorf("the message opened has id %q, want %q", id, email.MessageID)
	}
	if to := tb.text("#mail-to"); !strings.EqualFold(to, student.Email) {
		t.Errorf("the message is to %q, want %s", to, student.Email)
	}
	if sandbox := evalT[string](tb, `document.querySelector('#mail-html').getAttribute('sandbox')`); strings.Contains(sandbox, "allow-scripts") || strings.Contains(sandbox, "allow-same-origin") {
		t.Errorf("the email's frame is sandboxed with %q, want no scripts and no origin", sandbox)
	}
	tb.waitFor("the email's HTML in its frame", `document.querySelector('#mail-html').srcdoc.includes('/reset-password?token=')`)
	tb.screenshot("local-mail-message")

	// The text part's link is the email's reset link, live. (Following it
	// to the reset form is TestResetByLink's; here, in the full suite, the
	// form sometimes never showed — see the closing note of issue 10.)
	href := evalT[string](tb, `document.querySelector('#mail-text a[href*="/reset-password?token="]').getAttribute('href')`)
	if want := resetLinkIn(t, email); href != want {
		t.Errorf("the viewer's link is %q, want the email's %q", href, want)
	}
}
