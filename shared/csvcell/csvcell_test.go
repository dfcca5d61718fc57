package csvcell

import "testing"

func TestSafe(t *testing.T) {
	for _, test := range []struct{ in, want string }{
		{"=1+1", "'=1+1"}, {"+1", "'+1"}, {"-1", "'-1"}, {"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"}, {"\rx", "'\rx"}, {"\x00x", "'\x00x"},
		{"", ""}, {"Zoë", "Zoë"}, {"a=b", "a=b"}, {"<script>", "<script>"}, {"\u202eevil", "\u202eevil"},
	} {
		if got := Safe(test.in); got != test.want {
			t.Errorf("Safe(%q) = %q, want %q", test.in, got, test.want)
		}
	}
}
