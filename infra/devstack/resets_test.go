package devstack

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/infra/testwait"
	"github.com/rekey/rekey/shared/rekey"
)

// waitForMail polls the local mailbox until an email to address arrives
// after the first `after` emails, or fails the test.
func waitForMail(t *testing.T, s *Stack, address string, after int) SentEmail {
	t.Helper()
	var found SentEmail
	testwait.Until(t, "an email to "+address, func() (bool, string) {
		sent := s.Mail()
		for _, m := range sent[min(after, len(sent)):] {
			if strings.EqualFold(m.To, address) {
				found = m
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d emails sent, none to %s after the first %d", len(sent), address, after)
	})
	if found.MessageID == "" {
		t.Errorf("the email to %s carries no SES message id", address)
	}
	return found
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+/reset-password\?token=([A-Za-z0-9._~%-]+)`)

func tokenFrom(t *testing.T, m SentEmail) string {
	t.Helper()
	match := linkPattern.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("email %q has no reset link in its text: %s", m.Subject, m.Text)
	}
	token, err := url.QueryUnescape(match[1])
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func demoUser(t *testing.T, s *Stack, match func(rekey.User) bool) rekey.User {
	t.Helper()
	for _, u := range s.Demo.Users {
		if match(u) {
			return u
		}
	}
	t.Fatal("no demo user matches")
	return rekey.User{}
}

func signInWith(t *testing.T, s *Stack, username, password string) (*client, int, apiError, bool) {
	t.Helper()
	c := &client{t: t, base: s.URL}
	var out struct {
		Token              string
		MustChangePassword bool
	}
	status, e := c.do("POST", "/api/auth/login", map[string]string{"username": username, "password": password}, &out)
	c.token = out.Token
	return c, status, e, out.MustChangePassword
}

func TestPasswordResetsEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")

	// Temporary password -> forced change -> normal sign-in.
	student := demoUser(t, s, func(u rekey.User) bool {
		return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-1" && u.Email != ""
	})
	var temp struct {
		Mode              string
		TemporaryPassword string
	}
	if status, e := admin.do("POST", "/api/users/"+student.ID+"/password-reset", map[string]string{"mode": "temporary"}, &temp); status != 200 || temp.TemporaryPassword == "" {
		t.Fatalf("temporary reset = %d %+v %+v, want 200 with a generated password", status, e, temp)
	}
	c, status, e, mustChange := signInWith(t, s, student.Username, temp.TemporaryPassword)
	if status != 200 || !mustChange {
		t.Fatalf("sign in with temporary password = %d %+v mustChange=%v, want 200 and a forced change", status, e, mustChange)
	}
	if status, e := c.do("GET", "/api/users", nil, nil); status != 403 || e.Code != "password_change_required" {
		t.Errorf("listing during a forced change = %d %+v, want 403 password_change_required", status, e)
	}
	if status, e := c.do("POST", "/api/password/change", map[string]string{"currentPassword": temp.TemporaryPassword, "newPassword": "short"}, nil); status != 422 || e.Code != "weak_password" {
		t.Errorf("weak new password = %d %+v, want 422 weak_password", status, e)
	}
	const chosen = "a quiet walk by the river"
	if status, e := c.do("POST", "/api/password/change", map[string]string{"currentPassword": temp.TemporaryPassword, "newPassword": chosen}, nil); status != 204 {
		t.Fatalf("forced change = %d %+v, want 204", status, e)
	}
	if _, status, e, mustChange := signInWith(t, s, student.Username, chosen); status != 200 || mustChange {
		t.Errorf("sign in after the change = %d %+v mustChange=%v, want a normal sign-in", status, e, mustChange)
	}

	// Reset by link: the old password and the old sessions die at once.
	victim := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleTeacher && u.Email != "" })
	session, status, _, _ := signInWith(t, s, victim.Username, demoPassword)
	if status != 200 {
		t.Fatalf("teacher sign-in = %d", status)
	}
	before := len(s.Mail())
	var link struct {
		Mode      string
		ExpiresAt time.Time
	}
	if status, e := admin.do("POST", "/api/users/"+victim.ID+"/password-reset", map[string]string{"mode": "link"}, &link); status != 202 || link.Mode != "link" || link.ExpiresAt.IsZero() {
		t.Fatalf("link reset = %d %+v %+v, want 202 {mode:link, expiresAt}", status, e, link)
	}
	if status, _ := session.do("GET", "/api/me", nil, nil); status != 401 {
		t.Errorf("old session after a link reset = %d, want 401", status)
	}
	if _, status, e, _ := signInWith(t, s, victim.Username, demoPassword); status != 403 || e.Code != "password_reset_required" {
		t.Errorf("old password after a link reset = %d %+v, want 403 password_reset_required", status, e)
	}
	email := waitForMail(t, s, victim.Email, before)
	if !strings.Contains(email.Text, s.URL+"/reset-password?token=") {
		t.Errorf("reset email text does not link to %s/reset-password: %s", s.URL, email.Text)
	}
	token := tokenFrom(t, email)
	anon := &client{t: t, base: s.URL}
	// The reset page checks the link first; checking uses nothing up, and
	// there is no GET a link scanner could follow.
	if status, e := anon.do("GET", "/api/password/reset/check?token="+url.QueryEscape(token), nil, nil); status != 405 {
		t.Errorf("GET the check = %d %+v, want 405", status, e)
	}
	for range 2 {
		var check struct{ Valid bool }
		if status, e := anon.do("POST", "/api/password/reset/check", map[string]string{"token": token}, &check); status != 200 || !check.Valid {
			t.Errorf("check of a fresh link = %d %+v %+v, want 200 {valid:true}", status, e, check)
		}
	}
	if status, e := anon.do("POST", "/api/password/reset", map[string]string{"token": token, "newPassword": "weak"}, nil); status != 422 || e.Code != "weak_password" {
		t.Errorf("weak password on redemption = %d %+v, want 422 weak_password", status, e)
	}
	const fresh = "lanterns over the harbour at dusk"
	if status, e := anon.do("POST", "/api/password/reset", map[string]string{"token": token, "newPassword": fresh}, nil); status != 204 {
		t.Fatalf("redeem = %d %+v, want 204", status, e)
	}
	if status, e := anon.do("POST", "/api/password/reset", map[string]string{"token": token, "newPassword": fresh + " again"}, nil); status != 400 || e.Code != "invalid_token" {
		t.Errorf("second redemption = %d %+v, want 400 invalid_token", status, e)
	}
	if status, e := anon.do("POST", "/api/password/reset", map[string]string{"token": "forged-token-value", "newPassword": fresh}, nil); status != 400 || e.Code != "invalid_token" {
		t.Errorf("forged token = %d %+v, want 400 invalid_token", status, e)
	}
	for name, tok := range map[string]string{"used": token, "forged": "forged-token-value", "empty": ""} {
		if status, e := anon.do("POST", "/api/password/reset/check", map[string]string{"token": tok}, nil); status != 400 || e.Code != "invalid_token" {
			t.Errorf("check of a %s link = %d %+v, want 400 invalid_token", name, status, e)
		}
	}
	if _, status, e, _ := signInWith(t, s, victim.Username, fresh); status != 200 {
		t.Errorf("sign in with the new password = %d %+v, want 200", status, e)
	}
	// The user is told their password changed.
	waitForMail(t, s, victim.Email, before+1)

	// A user without email cannot get a link.
	noEmail := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleStudent && u.Email == "" })
	if status, e := admin.do("POST", "/api/users/"+noEmail.ID+"/password-reset", map[string]string{"mode": "link"}, nil); status != 422 || e.Code != "no_email" {
		t.Errorf("link reset without email = %d %+v, want 422 no_email", status, e)
	}
	if status, e := admin.do("POST", "/api/users/"+noEmail.ID+"/password-reset", map[string]string{"mode": "temporary", "temporaryPassword": "password"}, nil); status != 422 || e.Code != "weak_password" {
		t.Errorf("weak typed temporary password = %d %+v, want 422 weak_password", status, e)
	}
	if status, e := admin.do("POST", "/api/users/"+noEmail.ID+"/password-reset", map[string]string{"mode": "email"}, nil); status != 422 || e.Field != "mode" {
		t.Errorf("unknown mode = %d %+v, want 422 naming mode", status, e)
	}

	// Forgot password: the same answer for a known and an unknown account,
	// and mail only for the known one.
	known := demoUser(t, s, func(u rekey.User) bool {
		return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-2" && u.Email != ""
	})
	var a1, a2 map[string]any
	mailBefore := len(s.Mail())
	s1, _ := anon.do("POST", "/api/password/forgot", map[string]string{"login": known.Username}, &a1)
	s2, _ := anon.do("POST", "/api/password/forgot", map[string]string{"login": "nobody.at.all"}, &a2)
	if s1 != 202 || s2 != 202 || a1["message"] != a2["message"] {
		t.Errorf("forgot known = %d %v, unknown = %d %v; want identical 202s", s1, a1, s2, a2)
	}
	waitForMail(t, s, known.Email, mailBefore)
	time.Sleep(time.Second)
	if got := len(s.Mail()) - mailBefore; got != 1 {
		t.Errorf("forgot sent %d emails, want exactly 1 (none for the unknown account)", got)
	}

	// A teacher resets only their own school's students.
	teacherUser := demoUser(t, s, func(u rekey.User) bool {
		return u.Role == rekey.RoleTeacher && u.SchoolID == "demo-school-1" && u.ID != victim.ID
	})
	teacher := signIn(t, s, teacherUser.Username)
	ownStudent := demoUser(t, s, func(u rekey.User) bool {
		return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-1" && u.ID != student.ID && u.Email != ""
	})
	otherStudent := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-2" })
	schoolAdmin := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == "demo-school-1" })
	districtAdmin := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleDistrictAdmin })
	if status, e := teacher.do("POST", "/api/users/"+ownStudent.ID+"/password-reset", map[string]string{"mode": "link"}, nil); status != 202 {
		t.Errorf("teacher resetting own student = %d %+v, want 202", status, e)
	}
	for name, target := range map[string]rekey.User{"another school's student": otherStudent, "a school admin": schoolAdmin, "the district admin": districtAdmin} {
		if status, _ := teacher.do("POST", "/api/users/"+target.ID+"/password-reset", map[string]string{"mode": "temporary"}, nil); status != 403 && status != 404 {
			t.Errorf("teacher resetting %s = %d, want 403 or 404", name, status)
		}
	}
	sa := signIn(t, s, schoolAdmin.Username)
	if status, _ := sa.do("POST", "/api/users/"+districtAdmin.ID+"/password-reset", map[string]string{"mode": "temporary"}, nil); status != 403 && status != 404 {
		t.Errorf("school admin resetting the district admin = %d, want 403 or 404", status)
	}
}
