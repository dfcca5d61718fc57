package rekey

import (
	"strconv"
	"strings"
)

// Grades lists the school grades in school order, as the console offers them
// (console grades.js): kindergarten first, then 1 to 12.
var Grades = []string{"K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}

// GradeLevel is a user's grade as a number, so that grades sort in school
// order ("K" before "2" before "10") and compare with a district's
// kidFriendlyMaxGrade: kindergarten is 0, pre-kindergarten (PK, TK, IT,
// PR, as OneRoster files name them) is -1, "1" to "13" are themselves
// (leading zeros as in OneRoster's "01" are fine). ok is false for an
// empty or unknown grade ("UG", "Other", "Adult"), which callers must not
// guess at.
func GradeLevel(grade string) (level int, ok bool) {
	g := strings.ToUpper(strings.TrimSpace(grade))
	switch g {
	case "":
		return 0, false
	case "K", "KG", "KINDERGARTEN":
		return 0, true
	case "PK", "TK", "IT", "PR", "PREK", "PRE-K":
		return -1, true
	}
	n, err := strconv.Atoi(g)
	if err != nil || n < 0 || n > 13 || g[0] == '+' {
		return 0, false
	}
	return n, true
}
