package browsertest

import (
	"strings"
	"testing"
)

// askForALink submits the forgot-password form and returns what the page
// then says.
func askForALink(t *testing.T, login, screenshot string) string {
	t.Helper()
	tb := newTab(t)
	tb.open("/forgot-password")
	tb.waitFor("the focus on the login field", `document.activeElement?.id === 'forgot-login'`)
	tb.keys(login)
	tb.keys("\r")
	tb.waitVisible("#forgot-done")
	if !evalT[bool](tb, `document.querySelector('#forgot-form').hidden`) {
		t.Errorf("the form still shows after sending")
	}
	tb.screenshot(screenshot)
	return tb.text("#forgot-done")
}

func TestForgotPasswordSaysTheSameForKnownAndUnknownUsers(t *testing.T) {
	t.Parallel()
	known := claimStudent(t, true)
	mailBefore := len(stack.Mail())
	forKnown := askForALink(t, known.Username, "forgot-sent-known")
	forUnknown := askForALink(t, "nobody.at.all.here", "forgot-sent-unknown")
	if forKnown != forUnknown || forKnown == "" {
		t.Errorf("the page says %q for a known user and %q for an unknown one, want the same words", forKnown, forUnknown)
	}
	email := newestMailTo(t, known.Email, mailBefore)
	link := resetLinkIn(t, email)
	if !strings.HasPrefix(link, stack.URL+"/reset-password?token=") {
		t.Errorf("the forgot-password email links to %q, want the console's reset page", link)
	}
	for _, m := range stack.Mail()[mailBefore:] {
		if strings.Contains(strings.ToLower(m.To), "nobody.at.all.here") {
			t.Errorf("an email went to %s for an unknown login", m.To)
		}
	}
}
