package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestResetTokenShape: redemption and the check refuse a token no link
// could hold before they ask the reset service (the test API has none, so
// reaching it would be a 500).
func TestResetTokenShape(t *testing.T) {
	a := newTestAPI(t)
	for _, path := range []string{"/api/password/reset", "/api/password/reset/check"} {
		for name, token := range map[string]string{"empty": "", "too long": strings.Repeat("a", 513)} {
			body := `{"token":"` + token + `"}`
			if path == "/api/password/reset" {
				body = `{"token":"` + token + `","newPassword":"` + goodPassword + `"}`
			}
			t.Run(path+" "+name, func(t *testing.T) {
				wantError(t, a.do(http.MethodPost, path, body), http.StatusBadRequest, rekey.ECodeInvalidToken, "")
			})
		}
	}
}
