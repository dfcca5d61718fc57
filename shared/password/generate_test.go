package password

import (
	"regexp"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

func TestGenerate(t *testing.T) {
	const n = 2000
	shape := regexp.MustCompile(`^[` + generatedAlphabet + `]{5}(-[` + generatedAlphabet + `]{5}){3}$`)
	seen := make(map[string]bool, n)
	counts := make(map[rune]int)
	staff := rekey.User{Role: rekey.RoleDistrictAdmin, Username: "admin", FirstName: "Dana", LastName: "Kim", Email: "dana.kim@example.org"}
	for range n {
		password, err := Generate()
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if !shape.MatchString(password) {
			t.Fatalf("Generate() = %q, want four dash-joined groups of five from %q", password, generatedAlphabet)
		}
		if strings.ContainsAny(password, "01ilo") {
			t.Fatalf("Generate() = %q, want no ambiguous characters 0 1 i l o", password)
		}
		if seen[password] {
			t.Fatalf("Generate() = %q twice in %d calls", password, n)
		}
		seen[password] = true
		if err := Check(rekey.PasswordPolicy{}, "password", password, staff, "Springfield Unified"); err != nil {
			t.Fatalf("Check(Generate() = %q) for staff = %v, want nil", password, err)
		}
		for _, r := range strings.ReplaceAll(password, "-", "") {
			counts[r]++
		}
	}
	// 40,000 draws over 31 characters: each appears about 1,290 times, so
	// a character that never or seldom appears means a biased generator.
	for _, r := range generatedAlphabet {
		if counts[r] < 1000 {
			t.Errorf("character %q appeared %d times in %d passwords, want about 1290", r, counts[r], n)
		}
	}
}
