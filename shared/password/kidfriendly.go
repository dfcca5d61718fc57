package password

import (
	"crypto/rand"
	_ "embed"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"

	"github.com/rekey/rekey/shared/rekey"
)

// DefaultKidFriendlyMaxGrade is the highest grade whose students get
// kid-friendly generated passwords when a district has not chosen one
// (grade 2; kindergarten is 0, see rekey.GradeLevel): the district
// settings' default, rekey.DefaultKidFriendlyMaxGrade.
const DefaultKidFriendlyMaxGrade = rekey.DefaultKidFriendlyMaxGrade

// KidFriendlyOff, as a district's kidFriendlyMaxGrade, gives every user a
// full-strength generated password (it is below pre-kindergarten, -1).
const KidFriendlyOff = -2

// kidWordsFile is the list of short common words that kid-friendly
// passwords are made of; see kidwords/README.md for its source and licence.
//
//go:embed kidwords/words.txt
var kidWordsFile string

// kidWords is the word list as a slice, built on first use.
var kidWords = sync.OnceValue(func() []string {
	return strings.Fields(kidWordsFile)
})

// Shape of kid-friendly passwords: three words and a two-digit number,
// such as "frog-lamp-sun42". Digits 0 and 1 are left out (read as o and l).
const (
	kidWordCount = 3
	kidDigits    = "23456789"
	kidDigitLen  = 2
	// kidAttempts bounds the draws GenerateFor makes before it gives up
	// on a kid-friendly password that the policy accepts.
	kidAttempts = 20
)

// KidFriendly reports whether user gets a kid-friendly generated password:
// students whose grade is known and at or below kidMaxGrade. Staff, and
// students of an unknown grade, get full-strength ones.
func KidFriendly(user rekey.User, kidMaxGrade int) bool {
	if user.Role != rekey.RoleStudent {
		return false
	}
	level, ok := rekey.GradeLevel(user.Grade)
	return ok && level <= kidMaxGrade
}

// GenerateFor returns a temporary password for user: kid-friendly (words a
// young child can type) when KidFriendly says so and the district's policy
// accepts one, else full-strength (Generate). A kid-friendly password is
// checked like a password the user chose (policy length, blocklist, the
// user's names); one that fails is drawn again, and if the policy cannot
// be met by such passwords at all (a student minimum above 19 characters)
// the user gets a full-strength one.
func GenerateFor(policy rekey.PasswordPolicy, user rekey.User, kidMaxGrade int) (string, error) {
	if KidFriendly(user, kidMaxGrade) {
		for range kidAttempts {
			pw, err := generateKidFriendly()
			if err != nil {
				return "", err
			}
			if Check(policy, "password", pw, user) == nil {
				return pw, nil
			}
		}
	}
	return Generate()
}

// generateKidFriendly draws three words and two digits from crypto/rand,
// each uniformly.
func generateKidFriendly() (string, error) {
	words := kidWords()
	var b strings.Builder
	for i := range kidWordCount {
		n, err := randomIndex(len(words))
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(words[n])
	}
	for range kidDigitLen {
		n, err := randomIndex(len(kidDigits))
		if err != nil {
			return "", err
		}
		b.WriteByte(kidDigits[n])
	}
	return b.String(), nil
}

// randomIndex is a uniform random number in [0, n).
func randomIndex(n int) (int, error) {
	x, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("password: generate: %w", err)
	}
	return int(x.Int64()), nil
}

// KidFriendlyEntropyBits is the entropy of a kid-friendly password: three
// words from the list and two digits from eight, about 37.8 bits with
// 1,556 words.
func KidFriendlyEntropyBits() float64 {
	return kidWordCount*math.Log2(float64(len(kidWords()))) + kidDigitLen*math.Log2(float64(len(kidDigits)))
}

// GeneratedEntropyBits is the entropy of a full-strength generated
// password: 20 characters from 31, about 99.1 bits.
func GeneratedEntropyBits() float64 {
	return generatedGroups * generatedGroupSize * math.Log2(float64(len(generatedAlphabet)))
}
