package rekey

import "testing"

func TestHasControl(t *testing.T) {
	for _, test := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"Zoë O'Neil-Şahin 7B", false},
		{"tab\there", true},
		{"new\nline", true},
		{"del\x7f", true},
		{"c1\u0085", true},
		{"line\u2028sep", true},
		{"para\u2029sep", true},
		{"rtl\u202eoverride", true},
		{"lre\u202a", true},
		{"isolate\u2066x\u2069", true},
		{"bad utf-8 \xff", true},
		{"zero width joiner \u200d is fine", false},
	} {
		if got := HasControl(test.s); got != test.want {
			t.Errorf("HasControl(%q) = %v, want %v", test.s, got, test.want)
		}
	}
}
