package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

// randomish is not on the blocklist and contains no context word at any
// prefix length used below.
const randomish = "tq8vzk3mwrpj5hnxcfbg"

var (
	student = rekey.User{Role: rekey.RoleStudent, Username: "mrodriguez7", FirstName: "Maria", LastName: "Rodriguez", Email: "maria.rodriguez@example.org"}
	teacher = rekey.User{Role: rekey.RoleTeacher, Username: "gfeatherstone", FirstName: "Gabriela", LastName: "Featherstone", Email: "gaby.writes@example.org"}
)

func TestCheck(t *testing.T) {
	emoji64 := strings.Repeat("🦊🌲🚲☕", 16)
	if n := utf8.RuneCountInString(emoji64); n != 64 {
		t.Fatalf("emoji passphrase has %d code points, want 64", n)
	}
	long := func(n int) string { return strings.Repeat("abcdefghij", 13)[:n] }
	district := []string{"Lincoln High School", "Springfield Unified"}

	for _, test := range []struct {
		name     string
		policy   rekey.PasswordPolicy
		user     rekey.User
		password string
		context  []string
		// wantReason is the message after "Password "; empty means accepted.
		wantReason string
	}{
		// Length by role at the boundaries, default policy.
		{"student 7", rekey.PasswordPolicy{}, student, randomish[:7], nil, "must be at least 8 characters"},
		{"student 8", rekey.PasswordPolicy{}, student, randomish[:8], nil, ""},
		{"student 9", rekey.PasswordPolicy{}, student, randomish[:9], nil, ""},
		{"staff 14", rekey.PasswordPolicy{}, teacher, randomish[:14], nil, "must be at least 15 characters"},
		{"staff 15", rekey.PasswordPolicy{}, teacher, randomish[:15], nil, ""},
		{"district admin 14", rekey.PasswordPolicy{}, rekey.User{Role: rekey.RoleDistrictAdmin}, randomish[:14], nil, "must be at least 15 characters"},
		{"empty", rekey.PasswordPolicy{}, student, "", nil, "must be at least 8 characters"},
		{"max", rekey.PasswordPolicy{}, teacher, long(128), nil, ""},
		{"max+1", rekey.PasswordPolicy{}, teacher, long(129), nil, "must be at most 128 characters"},
		{"64-character emoji passphrase", rekey.PasswordPolicy{}, teacher, emoji64, nil, ""},
		{"emoji counted by code point", rekey.PasswordPolicy{}, student, "🦊🌲🚲☕🦊🌲🚲", nil, "must be at least 8 characters"},

		// District-configured lengths.
		{"custom student minimum", rekey.PasswordPolicy{MinLengthStudent: 10}, student, randomish[:9], nil, "must be at least 10 characters"},
		{"custom staff minimum", rekey.PasswordPolicy{MinLengthStaff: 20}, teacher, randomish[:19], nil, "must be at least 20 characters"},
		{"custom max", rekey.PasswordPolicy{MaxLength: 80}, teacher, long(81), nil, "must be at most 80 characters"},
		{"max below 64 still accepts 64", rekey.PasswordPolicy{MaxLength: 20}, teacher, long(64), nil, ""},
		{"max below 64 rejects 65", rekey.PasswordPolicy{MaxLength: 20}, teacher, long(65), nil, "must be at most 64 characters"},

		// No composition rules.
		{"long lowercase passphrase", rekey.PasswordPolicy{}, teacher, "the purple elephant sings quietly at dawn", nil, ""},
		{"digits only", rekey.PasswordPolicy{}, student, "73920184", nil, ""},
		{"spaces inside", rekey.PasswordPolicy{}, student, "my cat naps", nil, ""},
		{"zero-width joiner emoji", rekey.PasswordPolicy{}, student, "👩‍💻👨‍👩‍👧🏳️‍🌈", nil, ""},

		// Encoding and control characters.
		{"invalid UTF-8", rekey.PasswordPolicy{}, student, randomish[:10] + "\xff", nil, "is not valid text (UTF-8)"},
		{"NUL", rekey.PasswordPolicy{}, student, randomish[:10] + "\x00", nil, "must not contain a NUL character"},
		{"tab", rekey.PasswordPolicy{}, student, randomish[:5] + "\t" + randomish[5:10], nil, "must not contain control characters such as tabs or line breaks"},
		{"newline", rekey.PasswordPolicy{}, student, randomish[:10] + "\n", nil, "must not contain control characters such as tabs or line breaks"},
		{"DEL", rekey.PasswordPolicy{}, student, randomish[:10] + "\x7f", nil, "must not contain control characters such as tabs or line breaks"},
		{"C1 control", rekey.PasswordPolicy{}, student, randomish[:10] + "\u0085", nil, "must not contain control characters such as tabs or line breaks"},
		{"one character repeated", rekey.PasswordPolicy{}, student, "aaaaaaaaaaaaaaaa", nil, "must not be a single character repeated"},
		{"only spaces", rekey.PasswordPolicy{}, teacher, strings.Repeat(" ", 20), nil, "must not be a single character repeated"},

		// Blocklist.
		{"common", rekey.PasswordPolicy{}, student, "password", nil, "is on the list of commonly used passwords"},
		{"common, other case", rekey.PasswordPolicy{}, student, "BaseBall", nil, "is on the list of commonly used passwords"},
		{"common with digit", rekey.PasswordPolicy{}, student, "Password1", nil, "is on the list of commonly used passwords"},
		{"common with suffix", rekey.PasswordPolicy{}, student, "Dragon2024!", nil, "is on the list of commonly used passwords"},
		{"common, staff length", rekey.PasswordPolicy{}, teacher, "1qaz2wsx3edc4rfv", nil, "is on the list of commonly used passwords"},
		{"common, doubled", rekey.PasswordPolicy{}, teacher, "PasswordPassword", nil, "is on the list of commonly used passwords"},
		{"common word inside a passphrase", rekey.PasswordPolicy{}, teacher, "my dragon eats password soup", nil, ""},

		// Context words.
		{"username", rekey.PasswordPolicy{}, student, "MRodriguez7rocks", nil, "must not contain your username"},
		{"first name", rekey.PasswordPolicy{}, teacher, "hello gabriela friend", nil, "must not contain your first name"},
		{"last name", rekey.PasswordPolicy{}, teacher, "featherstone_forever", nil, "must not contain your last name"},
		{"email local part", rekey.PasswordPolicy{}, teacher, "mygaby.writesblog!", nil, "must not contain your email address"},
		{"email local part without dot", rekey.PasswordPolicy{}, teacher, "mygabywritesblog!", nil, "must not contain your email address"},
		{"school name", rekey.PasswordPolicy{}, teacher, "LincolnHighSchool2025", district, `must not contain "Lincoln High School"`},
		{"district name", rekey.PasswordPolicy{}, teacher, "go springfield unified go", district, `must not contain "Springfield Unified"`},
		{"password equals context word", rekey.PasswordPolicy{}, student, "Springfield Unified", district, `must not contain "Springfield Unified"`},
		{"part of a school name is fine", rekey.PasswordPolicy{}, teacher, "our school has a tall oak", district, ""},
		{"short first name ignored", rekey.PasswordPolicy{}, rekey.User{Role: rekey.RoleStudent, FirstName: "Al", LastName: "Ng", Username: "ang"}, "always angry alpaca", nil, ""},
		{"short context word ignored", rekey.PasswordPolicy{}, student, "great ps1 memories", []string{"PS1"}, ""},
		{"empty context word ignored", rekey.PasswordPolicy{}, student, randomish[:10], []string{"", "  "}, ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			err := Check(test.policy, "newPassword", test.password, test.user, test.context...)
			if test.wantReason == "" {
				if err != nil {
					t.Errorf("Check(%q) = %v, want nil", test.password, err)
				}
				return
			}
			var got *rekey.Error
			if !errors.As(err, &got) {
				t.Fatalf("Check(%q) = %v, want a *rekey.Error", test.password, err)
			}
			want := &rekey.Error{Code: rekey.ECodeWeakPassword, Field: "newPassword", Message: "Password " + test.wantReason + "."}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Check(%q) mismatch (-want +got):\n%s", test.password, diff)
			}
		})
	}
}

func TestCheckNeverTruncates(t *testing.T) {
	// A password is checked whole: a blocklisted one with 60 more
	// characters after it is a different, acceptable password.
	password := "password" + randomish + randomish + randomish
	if err := Check(rekey.PasswordPolicy{}, "password", password, teacher); err != nil {
		t.Errorf("Check(%q) = %v, want nil", password, err)
	}
}
