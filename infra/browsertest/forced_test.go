package browsertest

import (
	"net/http"
	"strings"
	"testing"
)

func TestForcedPasswordChange(t *testing.T) {
	t.Parallel()
	student := claimStudent(t, false)
	var temp struct{ TemporaryPassword string }
	apiAdmin(t).must(http.StatusOK, "POST", "/api/users/"+student.ID+"/password-reset", map[string]string{"mode": "temporary"}, &temp)
	if temp.TemporaryPassword == "" {
		t.Fatal("the temporary reset gave no generated password")
	}
	// The Users list says the student must change their password.
	admin := newTab(t)
	admin.signInAdmin()
	admin.findUser(student)
	admin.waitText(`tr[data-user-id="`+student.ID+`"]`, "Must change password")

	tb := newTab(t)
	tb.open("/")
	tb.fill("#signin-username", student.Username)
	tb.fill("#signin-password", temp.TemporaryPassword)
	tb.click("#signin-submit")
	tb.waitVisible("#change-form")
	tb.waitFor("the focus on the current password", `document.activeElement?.id === 'change-current'`)

	// A weak new password is refused next to the field.
	tb.expectHTTP(http.StatusUnprocessableEntity)
	tb.fill("#change-current", temp.TemporaryPassword)
	tb.fill("#change-new", "short")
	tb.click("#change-submit")
	tb.waitVisible("#change-new-error")
	if invalid := evalT[string](tb, `document.querySelector('#change-new').getAttribute('aria-invalid')`); invalid != "true" {
		t.Errorf("#change-new aria-invalid = %q after a weak password, want true", invalid)
	}
	tb.screenshot("forced-change-weak")

	const chosen = "a quiet walk by the river"
	tb.fill("#change-current", temp.TemporaryPassword)
	tb.fill("#change-new", chosen)
	tb.click("#change-submit")
	tb.waitVisible("#signin-form")
	tb.waitText("#signin-notice", "Sign in again")

	// The new password works and no change is asked for any more; a
	// student's start page is their account.
	tb.fill("#signin-username", student.Username)
	tb.fill("#signin-password", chosen)
	tb.click("#signin-submit")
	tb.waitVisible("#account-details")
	if hash := evalT[string](tb, `location.hash`); hash != "#/account" {
		t.Errorf("a student's start page = %q, want #/account", hash)
	}
	tb.waitText("#account-details", student.Username)
	tb.screenshot("account-student")
}

func TestStudentAccountNamesTheSchool(t *testing.T) {
	t.Parallel()
	student := claimStudent(t, true)
	tb := newTab(t)
	tb.signIn(student.Username, demoPassword)
	tb.waitVisible("#account-details")
	want := ""
	for _, s := range stack.Demo.Schools {
		if s.ID == student.SchoolID {
			want = s.Name
		}
	}
	tb.waitFor("the school row to fill in", `![...document.querySelectorAll('#account-details dd')].some((dd) => dd.textContent === '…')`)
	if got := tb.text("#account-details"); !strings.Contains(got, want) {
		t.Errorf("a student's account shows %q, want their school's name %q", got, want)
	}
}
