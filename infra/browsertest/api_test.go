package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rekey/rekey/infra/devstack"
	"github.com/rekey/rekey/infra/seed"
	"github.com/rekey/rekey/infra/testwait"
	"github.com/rekey/rekey/shared/rekey"
)

// apiClient calls the API behind the browser's back, as API.md describes it,
// with a bearer token.
type apiClient struct {
	t     *testing.T
	token string
}

// apiError is the API's error body.
type apiError struct {
	Code, Message, Field string
}

// apiAs signs in through the API.
func apiAs(t *testing.T, username, pw string) *apiClient {
	t.Helper()
	c := &apiClient{t: t}
	var out struct{ Token string }
	if status, raw := c.call("POST", "/api/auth/login", map[string]string{"username": username, "password": pw}, &out); status != http.StatusOK {
		t.Fatalf("API sign-in as %s = %d %s, want 200", username, status, raw)
	}
	c.token = out.Token
	return c
}

// apiAdmin is the district admin, through the API.
func apiAdmin(t *testing.T) *apiClient {
	return apiAs(t, seed.DistrictAdminUsername, demoPassword)
}

// call sends a JSON request and decodes a 2xx JSON answer into out (when
// non-nil); it returns the status and the raw body.
func (c *apiClient) call(method, path string, body, out any) (int, string) {
	c.t.Helper()
	resp, raw, err := devstack.Call(stack.URL, c.token, method, path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode < 300 && out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, strings.TrimSpace(string(raw))
}

// must is call that fails the test on any status but want.
func (c *apiClient) must(want int, method, path string, body, out any) {
	c.t.Helper()
	if status, raw := c.call(method, path, body, out); status != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, path, status, raw, want)
	}
}

// user reads one user record.
func (c *apiClient) user(id string) rekey.User {
	c.t.Helper()
	var u rekey.User
	c.must(http.StatusOK, "GET", "/api/users/"+id, nil, &u)
	return u
}

// Users are handed out to one test each, so tests that change accounts
// (resets, renames) never meet. School 2 is left whole for the bulk reset.
var claims struct {
	sync.Mutex
	taken map[string]bool
}

// bulkSchool is the school whose students the bulk reset test resets.
const bulkSchool = "demo-school-2"

// claimStudent returns a seeded student of school 1 that no other test has,
// with or without an email address.
func claimStudent(t *testing.T, withEmail bool) rekey.User {
	t.Helper()
	claims.Lock()
	defer claims.Unlock()
	if claims.taken == nil {
		claims.taken = map[string]bool{}
	}
	for _, u := range stack.Demo.Users {
		if u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-1" && (u.Email != "") == withEmail && !claims.taken[u.ID] {
			claims.taken[u.ID] = true
			return u
		}
	}
	t.Fatalf("no unclaimed student of demo-school-1 (withEmail=%v) is left", withEmail)
	return rekey.User{}
}

// demoUsers lists the seeded users that match.
func demoUsers(match func(rekey.User) bool) []rekey.User {
	var out []rekey.User
	for _, u := range stack.Demo.Users {
		if match(u) {
			out = append(out, u)
		}
	}
	return out
}

// newestMailTo waits for an email to address among those sent after the
// first `after` and returns the newest such one.
func newestMailTo(t *testing.T, address string, after int) devstack.SentEmail {
	t.Helper()
	var found devstack.SentEmail
	testwait.Until(t, "an email to "+address, func() (bool, string) {
		sent := stack.Mail()
		for i := len(sent) - 1; i >= min(after, len(sent)); i-- {
			if strings.EqualFold(sent[i].To, address) {
				found = sent[i]
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d emails sent, none to %s after the first %d", len(sent), address, after)
	})
	return found
}

var resetLink = regexp.MustCompile(`https?://[^\s"<>]+/reset-password\?token=[A-Za-z0-9._~%-]+`)

// resetLinkIn returns the reset link of an email's text part.
func resetLinkIn(t *testing.T, m devstack.SentEmail) string {
	t.Helper()
	link := resetLink.FindString(m.Text)
	if link == "" {
		t.Fatalf("email %q has no reset link in its text: %s", m.Subject, m.Text)
	}
	return link
}
