package rekey

import "testing"

func TestGradeLevel(t *testing.T) {
	for _, test := range []struct {
		grade string
		level int
		ok    bool
	}{
		{"K", 0, true}, {"k", 0, true}, {" KG ", 0, true}, {"0", 0, true},
		{"PK", -1, true}, {"TK", -1, true},
		{"1", 1, true}, {"01", 1, true}, {"2", 2, true}, {"3", 3, true}, {"12", 12, true}, {"13", 13, true},
		{"", 0, false}, {"UG", 0, false}, {"Other", 0, false}, {"14", 0, false}, {"-1", 0, false}, {"+3", 0, false}, {"3rd", 0, false},
	} {
		level, ok := GradeLevel(test.grade)
		if level != test.level || ok != test.ok {
			t.Errorf("GradeLevel(%q) = %d, %v, want %d, %v", test.grade, level, ok, test.level, test.ok)
		}
	}
	for i, g := range Grades {
		if level, ok := GradeLevel(g); !ok || level != i {
			t.Errorf("GradeLevel(Grades[%d] = %q) = %d, %v, want %d, true", i, g, level, ok, i)
		}
	}
}
