package letters

import (
	"slices"
	"strings"
	"unicode"
)

// The PDF library lays glyphs out left to right, one per character, with
// no shaping: right-to-left names would come out backwards and Arabic
// letters unjoined. This file does the small part of Unicode's
// bidirectional algorithm and of Arabic shaping that names need: Arabic
// letters take their joined forms (presentation forms, which the embedded
// DejaVu Sans has), and runs are put in visual order.

// arabicForms holds, for each Arabic letter, the first of its presentation
// forms (isolated; then final, initial, medial follow in that order) and
// whether it joins to the next letter (dual-joining) or only to the one
// before (right-joining, such as alef, dal, reh, waw).
var arabicForms = map[rune]struct {
	isolated rune
	dual     bool
}{
	0x0622: {0xFE81, false}, 0x0623: {0xFE83, false}, 0x0624: {0xFE85, false}, 0x0625: {0xFE87, false},
	0x0626: {0xFE89, true}, 0x0627: {0xFE8D, false}, 0x0628: {0xFE8F, true}, 0x0629: {0xFE93, false},
	0x062A: {0xFE95, true}, 0x062B: {0xFE99, true}, 0x062C: {0xFE9D, true}, 0x062D: {0xFEA1, true},
	0x062E: {0xFEA5, true}, 0x062F: {0xFEA9, false}, 0x0630: {0xFEAB, false}, 0x0631: {0xFEAD, false},
	0x0632: {0xFEAF, false}, 0x0633: {0xFEB1, true}, 0x0634: {0xFEB5, true}, 0x0635: {0xFEB9, true},
	0x0636: {0xFEBD, true}, 0x0637: {0xFEC1, true}, 0x0638: {0xFEC5, true}, 0x0639: {0xFEC9, true},
	0x063A: {0xFECD, true}, 0x0641: {0xFED1, true}, 0x0642: {0xFED5, true}, 0x0643: {0xFED9, true},
	0x0644: {0xFEDD, true}, 0x0645: {0xFEE1, true}, 0x0646: {0xFEE5, true}, 0x0647: {0xFEE9, true},
	0x0648: {0xFEED, false}, 0x0649: {0xFEEF, false}, 0x064A: {0xFEF1, true},
	// Persian and Urdu letters.
	0x067E: {0xFB56, true}, 0x0686: {0xFB7A, true}, 0x0698: {0xFB8A, false}, 0x06A9: {0xFB8E, true},
	0x06AF: {0xFB92, true}, 0x06CC: {0xFBFC, true},
}

// lamAlef maps an alef that follows lam to the isolated form of their
// ligature (the final form is one more), which Arabic writing requires.
var lamAlef = map[rune]rune{0x0622: 0xFEF5, 0x0623: 0xFEF7, 0x0625: 0xFEF9, 0x0627: 0xFEFB}

const (
	arabicLam     = 0x0644
	arabicTatweel = 0x0640
)

// shapeArabic replaces the Arabic letters of s by the presentation form
// their neighbours call for. Combining marks (harakat) are transparent.
func shapeArabic(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x0600 && r <= 0x06FF }) {
		return s
	}
	in := []rune(s)
	// joinsNext/joinsPrev report whether the letter at i can join the
	// letter after/before it.
	joinsNext := func(i int) bool {
		if in[i] == arabicTatweel {
			return true
		}
		f, ok := arabicForms[in[i]]
		return ok && f.dual
	}
	joinsPrev := func(i int) bool {
		_, ok := arabicForms[in[i]]
		return ok || in[i] == arabicTatweel
	}
	// neighbour finds the next letter from i in direction step, skipping
	// combining marks; -1 if none.
	neighbour := func(i, step int) int {
		for j := i + step; j >= 0 && j < len(in); j += step {
			if !unicode.Is(unicode.Mn, in[j]) {
				return j
			}
		}
		return -1
	}
	out := make([]rune, 0, len(in))
	for i := 0; i < len(in); i++ {
		r := in[i]
		f, ok := arabicForms[r]
		if !ok {
			out = append(out, r)
			continue
		}
		prev := neighbour(i, -1)
		linkBefore := prev >= 0 && joinsNext(prev) && joinsPrev(i)
		if r == arabicLam {
			if next := neighbour(i, 1); next == i+1 && lamAlef[in[next]] != 0 {
				lig := lamAlef[in[next]]
				if linkBefore {
					lig++
				}
				out = append(out, lig)
				i = next
				continue
			}
		}
		next := neighbour(i, 1)
		linkAfter := next >= 0 && f.dual && joinsPrev(next)
		switch {
		case linkBefore && linkAfter:
			out = append(out, f.isolated+3)
		case linkAfter:
			out = append(out, f.isolated+2)
		case linkBefore:
			out = append(out, f.isolated+1)
		default:
			out = append(out, f.isolated)
		}
	}
	return string(out)
}

// isRTL reports whether r is a strong right-to-left character (Hebrew,
// Arabic, Syriac, Thaana and their presentation forms).
func isRTL(r rune) bool {
	return (r >= 0x0590 && r <= 0x08FF) || (r >= 0xFB1D && r <= 0xFDFF) || (r >= 0xFE70 && r <= 0xFEFF)
}

// isStrongLTR reports whether r is a strong left-to-right character;
// digits count as such, so numbers keep their order inside RTL text.
func isStrongLTR(r rune) bool {
	return !isRTL(r) && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// mirrored holds the brackets that turn round in right-to-left runs.
var mirrored = map[rune]rune{'(': ')', ')': '(', '[': ']', ']': '[', '{': '}', '}': '{', '<': '>', '>': '<', '«': '»', '»': '«'}

// visualOrder returns s, one line of text in logical order, in the order
// its characters are drawn left to right. The paragraph direction is that
// of its first strong character; neutrals (spaces, punctuation) between two
// characters of one direction take that direction, others the paragraph's
// (rules W/N1/N2 and L2 of Unicode's bidi algorithm, without explicit
// embeddings, which names do not carry).
func visualOrder(s string) string {
	if !strings.ContainsFunc(s, isRTL) {
		return s
	}
	in := []rune(s)
	paragraphRTL := false
	for _, r := range in {
		if isRTL(r) {
			paragraphRTL = true
			break
		}
		if isStrongLTR(r) {
			break
		}
	}
	// Embedding levels: 0/1 in an LTR paragraph, 1/2 in an RTL one.
	strong := func(r rune) int { // 1 RTL, -1 LTR, 0 neutral
		switch {
		case isRTL(r):
			return 1
		case isStrongLTR(r):
			return -1
		}
		return 0
	}
	base := 0
	if paragraphRTL {
		base = 1
	}
	levelOf := func(dir int) int {
		switch {
		case dir > 0 && base == 0:
			return 1
		case dir < 0 && base == 1:
			return 2
		}
		return base
	}
	levels := make([]int, len(in))
	for i := 0; i < len(in); {
		if d := strong(in[i]); d != 0 {
			levels[i] = levelOf(d)
			i++
			continue
		}
		j := i
		for j < len(in) && strong(in[j]) == 0 {
			j++
		}
		before, after := 0, 0
		if i > 0 {
			before = strong(in[i-1])
		}
		if j < len(in) {
			after = strong(in[j])
		}
		level := base
		if before != 0 && before == after {
			level = levelOf(before)
		}
		for k := i; k < j; k++ {
			levels[k] = level
		}
		i = j
	}
	for i, r := range in {
		if levels[i]%2 == 1 {
			if m, ok := mirrored[r]; ok {
				in[i] = m
			}
		}
	}
	// Rule L2: from the highest level down to the lowest odd one, reverse
	// every run at that level or higher.
	for level := slices.Max(levels); level >= 1; level-- {
		for i := 0; i < len(in); {
			if levels[i] < level {
				i++
				continue
			}
			j := i
			for j < len(in) && levels[j] >= level {
				j++
			}
			slices.Reverse(in[i:j])
			slices.Reverse(levels[i:j])
			i = j
		}
	}
	return string(in)
}

// displayText prepares one line of user-supplied text for drawing:
// control characters become spaces (a name with a line break must not
// break the card), Arabic is shaped, and the line is put in visual order.
func displayText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return visualOrder(shapeArabic(s))
}

// isCJK reports whether r needs the CJK font: Han, kana, Hangul, CJK
// punctuation and full-width forms, which DejaVu Sans lacks.
func isCJK(r rune) bool {
	switch {
	case r >= 0x1100 && r <= 0x11FF, // Hangul Jamo
		r >= 0x2E80 && r <= 0x2FDF,   // CJK radicals
		r >= 0x3000 && r <= 0x33FF,   // CJK punctuation, kana, compatibility
		r >= 0x3400 && r <= 0x4DBF,   // Han extension A
		r >= 0x4E00 && r <= 0x9FFF,   // Han
		r >= 0xA960 && r <= 0xA97F,   // Hangul Jamo extended A
		r >= 0xAC00 && r <= 0xD7FF,   // Hangul syllables and Jamo extended B
		r >= 0xF900 && r <= 0xFAFF,   // Han compatibility
		r >= 0xFF00 && r <= 0xFFEF,   // half- and full-width forms
		r >= 0x20000 && r <= 0x3FFFF: // Han extensions B and later
		return true
	}
	return false
}

// textRun is a stretch of a line drawn in one font.
type textRun struct {
	text string
	cjk  bool
}

// fontRuns splits a line (in visual order) into runs by the font that has
// their glyphs.
func fontRuns(s string) []textRun {
	var runs []textRun
	for _, r := range s {
		cjk := isCJK(r)
		if n := len(runs); n > 0 && runs[n-1].cjk == cjk {
			runs[n-1].text += string(r)
			continue
		}
		runs = append(runs, textRun{text: string(r), cjk: cjk})
	}
	return runs
}
