package rekey

import "testing"

func TestNewIDIsValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 26 || !ValidID(id) {
			t.Fatalf("NewID() = %q, want 26 valid characters", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	for _, test := range []struct {
		in   string
		want bool
	}{
		{"", false}, {"abc", true}, {"a-b_C9", true}, {"../etc", false}, {"a b", false},
		{"x\u0000", false}, {string(make([]byte, 65)), false},
	} {
		if got := ValidID(test.in); got != test.want {
			t.Errorf("ValidID(%q) = %v, want %v", test.in, got, test.want)
		}
	}
}

func TestRoleRank(t *testing.T) {
	for i, r := range Roles[:5] {
		if r.Rank() != i+1 || !r.Valid() {
			t.Errorf("%s.Rank() = %d, want %d", r, r.Rank(), i+1)
		}
	}
	// A guardian is a valid role outside the hierarchy: no rank, not
	// staff, not admin, no school of its own.
	if g := RoleGuardian; !g.Valid() || g.Rank() != 0 || g.IsStaff() || g.IsAdmin() || g.SchoolScoped() {
		t.Errorf("guardian: Valid %v, Rank %d, IsStaff %v, IsAdmin %v, SchoolScoped %v; want true, 0, false, false, false",
			g.Valid(), g.Rank(), g.IsStaff(), g.IsAdmin(), g.SchoolScoped())
	}
	if Role("root").Valid() {
		t.Error(`Role("root").Valid() = true, want false`)
	}
	if RoleStudent.IsStaff() || !RoleTeacher.IsStaff() {
		t.Error("IsStaff: students are not staff, teachers are")
	}
}

func TestPolicyDefaults(t *testing.T) {
	p := PasswordPolicy{MinLengthStudent: 10}.WithDefaults()
	if p.MinLength(RoleGuardian) != 15 {
		t.Errorf("MinLength(guardian) = %d, want the staff minimum 15", p.MinLength(RoleGuardian))
	}
	if p.MinLength(RoleStudent) != 10 || p.MinLength(RoleTeacher) != 15 || p.MaxLength != 128 {
		t.Errorf("WithDefaults() = %+v, want student 10, staff 15, max 128", p)
	}
}
