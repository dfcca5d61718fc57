package password

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// kidShape is the shape of kid-friendly passwords: three words of 3 to 5
// lower-case letters, two hyphens, two digits from 2 to 9.
var kidShape = regexp.MustCompile(`^[a-z]{3,5}-[a-z]{3,5}-[a-z]{3,5}[2-9]{2}$`)

// fullShape is the shape of full-strength generated passwords.
var fullShape = regexp.MustCompile(`^[` + generatedAlphabet + `]{5}(-[` + generatedAlphabet + `]{5}){3}$`)

// studentIn is a student in grade.
func studentIn(grade string) rekey.User {
	return rekey.User{Role: rekey.RoleStudent, Username: "mia.lopez", FirstName: "Mia", LastName: "Lopez", Grade: grade}
}

func TestGenerateForKidFriendlyFormat(t *testing.T) {
	const n = 3000
	words := map[string]bool{}
	for _, w := range kidWords() {
		words[w] = true
	}
	seen := map[string]bool{}
	// Her names are on the word list: GenerateFor must draw again when a
	// password holds one (about one draw in a hundred), as Check refuses it.
	kid := rekey.User{Role: rekey.RoleStudent, Username: "rose.park", FirstName: "Rose", LastName: "Park", Grade: "1"}
	for range n {
		pw, err := GenerateFor(rekey.PasswordPolicy{}, kid, DefaultKidFriendlyMaxGrade)
		if err != nil {
			t.Fatalf("GenerateFor: %v", err)
		}
		if !kidShape.MatchString(pw) {
			t.Fatalf("GenerateFor(grade 1) = %q, want three short words and two digits", pw)
		}
		if len(pw) > 20 || strings.Count(pw, "-") > 2 || strings.ToLower(pw) != pw {
			t.Fatalf("GenerateFor(grade 1) = %q: want ≤ 20 characters, ≤ 2 hyphens, lower case", pw)
		}
		for _, w := range strings.Split(strings.TrimRight(pw, kidDigits), "-") {
			if !words[w] {
				t.Fatalf("GenerateFor(grade 1) = %q: %q is not on the word list", pw, w)
			}
		}
		if err := Check(rekey.PasswordPolicy{}, "password", pw, kid); err != nil {
			t.Fatalf("Check(GenerateFor(grade 1) = %q) = %v, want nil", pw, err)
		}
		if isCommon(pw) {
			t.Fatalf("GenerateFor(grade 1) = %q is on the blocklist", pw)
		}
		if seen[pw] {
			t.Fatalf("GenerateFor(grade 1) = %q twice in %d calls", pw, n)
		}
		seen[pw] = true
	}
}

func TestGenerateForGradeBoundary(t *testing.T) {
	teacher := rekey.User{Role: rekey.RoleTeacher, Username: "jo.park", FirstName: "Jo", LastName: "Park", Grade: "1"}
	admin := rekey.User{Role: rekey.RoleDistrictAdmin, Username: "dana", FirstName: "Dana", LastName: "Kim"}
	for _, test := range []struct {
		name    string
		user    rekey.User
		maxGr   int
		wantKid bool
	}{
		{"kindergarten", studentIn("K"), 2, true},
		{"grade 1", studentIn("1"), 2, true},
		{"grade 2", studentIn("2"), 2, true},
		{"grade 02 (OneRoster)", studentIn("02"), 2, true},
		{"grade 3", studentIn("3"), 2, false},
		{"grade 10", studentIn("10"), 2, false},
		{"pre-kindergarten", studentIn("PK"), 2, true},
		{"unknown grade", studentIn("UG"), 2, false},
		{"no grade", studentIn(""), 2, false},
		{"teacher with a grade", teacher, 2, false},
		{"district admin", admin, 12, false},
		{"kindergarten, district max K", studentIn("K"), 0, true},
		{"grade 1, district max K", studentIn("1"), 0, false},
		{"grade 3, district max 5", studentIn("3"), 5, true},
		{"kindergarten, turned off", studentIn("K"), KidFriendlyOff, false},
		{"pre-kindergarten, turned off", studentIn("PK"), KidFriendlyOff, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := KidFriendly(test.user, test.maxGr); got != test.wantKid {
				t.Errorf("KidFriendly(%s grade %q, %d) = %v, want %v", test.user.Role, test.user.Grade, test.maxGr, got, test.wantKid)
			}
			for range 20 {
				pw, err := GenerateFor(rekey.PasswordPolicy{}, test.user, test.maxGr)
				if err != nil {
					t.Fatalf("GenerateFor: %v", err)
				}
				if shape := map[bool]*regexp.Regexp{true: kidShape, false: fullShape}[test.wantKid]; !shape.MatchString(pw) {
					t.Fatalf("GenerateFor(%s grade %q, %d) = %q, want shape %s", test.user.Role, test.user.Grade, test.maxGr, pw, shape)
				}
				if err := Check(rekey.PasswordPolicy{}, "password", pw, test.user); err != nil {
					t.Fatalf("Check(GenerateFor(...) = %q) = %v, want nil", pw, err)
				}
			}
		})
	}
}

// A district whose student minimum no kid-friendly password reaches gets
// full-strength ones rather than passwords its own policy refuses.
func TestGenerateForFollowsPolicy(t *testing.T) {
	strict := rekey.PasswordPolicy{MinLengthStudent: 20}
	for range 50 {
		pw, err := GenerateFor(strict, studentIn("K"), DefaultKidFriendlyMaxGrade)
		if err != nil {
			t.Fatalf("GenerateFor: %v", err)
		}
		if err := Check(strict, "password", pw, studentIn("K")); err != nil {
			t.Fatalf("GenerateFor(min 20) = %q, refused by the policy: %v", pw, err)
		}
		if !fullShape.MatchString(pw) {
			t.Fatalf("GenerateFor(min 20) = %q, want a full-strength password", pw)
		}
	}
	// A 16-character minimum: only the longer kid-friendly draws pass.
	medium := rekey.PasswordPolicy{MinLengthStudent: 16}
	for range 50 {
		pw, err := GenerateFor(medium, studentIn("K"), DefaultKidFriendlyMaxGrade)
		if err != nil {
			t.Fatalf("GenerateFor: %v", err)
		}
		if len(pw) < 16 {
			t.Fatalf("GenerateFor(min 16) = %q, shorter than the policy allows", pw)
		}
	}
}

func TestKidWordList(t *testing.T) {
	words := kidWords()
	if len(words) < 1000 {
		t.Errorf("%d words, want at least 1,000", len(words))
	}
	if !slices.IsSorted(words) || len(slices.Compact(slices.Clone(words))) != len(words) {
		t.Error("word list is not sorted or has duplicates: each duplicate weakens the entropy figure")
	}
	word := regexp.MustCompile(`^[a-z]{3,5}$`)
	for _, w := range words {
		if !word.MatchString(w) {
			t.Errorf("word %q: want 3 to 5 lower-case letters", w)
		}
	}
}

func TestEntropy(t *testing.T) {
	n := float64(len(kidWords()))
	if got, want := KidFriendlyEntropyBits(), 3*math.Log2(n)+2*3; math.Abs(got-want) > 1e-9 {
		t.Errorf("KidFriendlyEntropyBits() = %v, want 3·log2(%v) + 2·log2(8) = %v", got, n, want)
	}
	// The README states 37.8 bits for the list as shipped (1,556 words).
	if got := KidFriendlyEntropyBits(); math.Abs(got-37.8) > 0.05 {
		t.Errorf("KidFriendlyEntropyBits() = %.2f, README says 37.8: update the README", got)
	}
	if got := GeneratedEntropyBits(); math.Abs(got-99.08) > 0.01 {
		t.Errorf("GeneratedEntropyBits() = %.2f, want 20·log2(31) = 99.08", got)
	}
}
