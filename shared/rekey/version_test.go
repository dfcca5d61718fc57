package rekey

import "testing"

func TestCheckUpdates(t *testing.T) {
	u := User{ID: "u1", Username: "ann", Email: "ann@example.org", Version: 3}
	next := func(change func(*User)) User {
		after := u
		after.Version++
		if change != nil {
			change(&after)
		}
		return after
	}
	for _, test := range []struct {
		name                   string
		before, after          User
		wantUser, wantPassword bool // whether each check accepts the write
	}{
		{"next version", u, next(nil), true, true},
		{"renamed", u, next(func(a *User) { a.Username = "ann.lee" }), true, false},
		{"new email", u, next(func(a *User) { a.Email = "" }), true, false},
		{"same version", u, u, false, false},
		{"two versions on", u, next(func(a *User) { a.Version++ }), false, false},
		{"other id", u, next(func(a *User) { a.ID = "u2" }), false, false},
		{"no id", User{Username: "ann"}, User{Username: "ann", Version: 1}, false, false},
		{"no username", u, next(func(a *User) { a.Username = "" }), false, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			if err := CheckUserUpdate(test.before, test.after); (err == nil) != test.wantUser {
				t.Errorf("CheckUserUpdate() = %v, want accepted %v", err, test.wantUser)
			}
			if err := CheckPasswordUpdate(test.before, test.after); (err == nil) != test.wantPassword {
				t.Errorf("CheckPasswordUpdate() = %v, want accepted %v", err, test.wantPassword)
			}
		})
	}
}
