package users

import (
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestNormaliseText: importers get each field's own limit and rules.
func TestNormaliseText(t *testing.T) {
	for _, test := range []struct {
		field, value, want string
		ok                 bool
	}{
		{"firstName", "  Ava ", "Ava", true},
		{"firstName", "", "", false},
		{"lastName", strings.Repeat("n", 101), "", false},
		{"grade", "", "", true},
		{"grade", strings.Repeat("1", 17), "", false},
		{"title", strings.Repeat("t", 100), strings.Repeat("t", 100), true},
		{"externalId", strings.Repeat("x", 65), "", false},
		{"externalId", "stu\x00", "", false},
		{"nickname", "Avi", "", false},
	} {
		got, err := NormaliseText(test.field, test.value)
		if (err == nil) != test.ok || test.ok && got != test.want {
			t.Errorf("NormaliseText(%q, %q) = %q, %v, want %q, ok=%v", test.field, test.value, got, err, test.want, test.ok)
		}
		if err != nil && (rekey.ErrorCode(err) != rekey.ECodeInvalidInput || !strings.Contains(err.Error(), "field="+test.field)) {
			t.Errorf("NormaliseText(%q) error = %v, want invalid_input on the field", test.field, err)
		}
	}
}
