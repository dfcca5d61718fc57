package password

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// generatedAlphabet holds the characters of generated passwords: lower-case
// letters and digits without those easily mistaken for another when read
// aloud or copied from paper (0 o, 1 i l).
const generatedAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// Shape of generated passwords: four groups of five characters joined by
// '-', so 20 characters of log2(31) ≈ 4.95 bits each, about 99 bits.
const (
	generatedGroups    = 4
	generatedGroupSize = 5
)

// Generate returns a random temporary password such as
// "k7mpx-9tqhw-4dr2n-bz3ea": about 99 bits from crypto/rand, easy to read
// out and type, and 23 characters long, so it passes Check for every role
// under the default policy.
func Generate() (string, error) {
	// Each random byte below 248 (8 × 31) picks a character without bias;
	// others are thrown away, so read a few more than needed.
	const n = generatedGroups * generatedGroupSize
	const limit = 256 - 256%len(generatedAlphabet)
	var b strings.Builder
	b.Grow(n + generatedGroups - 1)
	buf := make([]byte, n+8)
	count := 0
	for count < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("password: generate: %w", err)
		}
		for _, x := range buf {
			if int(x) >= limit {
				continue
			}
			if count > 0 && count%generatedGroupSize == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(generatedAlphabet[int(x)%len(generatedAlphabet)])
			count++
			if count == n {
				break
			}
		}
	}
	return b.String(), nil
}
