package browsertest

import (
	"net/http"
	"strings"
	"testing"
)

// TestGuardianRegistersAndSetsAChildsTemporaryPassword: a student's account
// shows their parent code; a parent signs up with it on the public page,
// signs in, sees the child and sets a temporary password for them.
func TestGuardianRegistersAndSetsAChildsTemporaryPassword(t *testing.T) {
	t.Parallel()
	student := claimStudent(t, false)
	var code struct{ Code string }
	apiAs(t, student.Username, demoPassword).must(http.StatusOK, "GET", "/api/me/parent-code", nil, &code)

	kid := newTab(t)
	kid.signIn(student.Username, demoPassword)
	kid.waitText("#account-code", code.Code)
	kid.screenshot("account-student-parent-code")

	tb := newTab(t)
	tb.open("/guardian-register")
	tb.fill("#register-code", strings.ToLower(code.Code))
	tb.fill("#register-first", "Dana")
	tb.fill("#register-last", "Okafor")
	tb.fill("#register-email", "dana.okafor@home.example.net")
	tb.fill("#register-username", "dana.okafor")
	tb.fill("#register-password", "violet harbour lantern morning")
	tb.screenshot("guardian-register")
	tb.click("#register-submit")
	tb.waitVisible("#register-done")

	tb.open("/")
	tb.signIn("dana.okafor", "violet harbour lantern morning")
	tb.waitText("#children-rows", student.Username)
	tb.click("#child-reset-" + student.ID)
	pw := tb.waitText("#child-temporary-password", "")
	tb.screenshot("guardian-children-temporary-password")
	if strings.TrimSpace(pw) == "" {
		t.Fatal("no temporary password shown")
	}
	if u := apiAdmin(t).user(student.ID); !u.MustChangePassword {
		t.Errorf("the child need not change the temporary password")
	}
	// The menu offers a guardian only their children and their account.
	if menu := tb.text("#nav"); strings.Contains(menu, "Users") || strings.Contains(menu, "Tasks") || !strings.Contains(menu, "My children") {
		t.Errorf("guardian's menu = %q", menu)
	}
}
