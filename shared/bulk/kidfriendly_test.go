package bulk_test

import (
	"regexp"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestGeneratedPasswordsForYoungStudents: a generated-passwords task gives
// students up to grade 2 (the default kidFriendlyMaxGrade) passwords of
// short words and digits, and older students full-strength ones.
func TestGeneratedPasswordsForYoungStudents(t *testing.T) {
	w := newWorld(t, worldOptions{})
	hash, err := fastHasher.Hash(oldPassword)
	if err != nil {
		t.Fatal(err)
	}
	young := []rekey.User{
		{ID: "k1", Username: "kai.k", FirstName: "Kai", LastName: "Stone", Grade: "K"},
		{ID: "g2", Username: "uma.two", FirstName: "Uma", LastName: "Reyes", Grade: "2"},
		{ID: "g3", Username: "raj.three", FirstName: "Raj", LastName: "Patel", Grade: "3"},
	}
	for i := range young {
		young[i].DistrictID, young[i].SchoolID, young[i].Role, young[i].Status = "d1", "s1", rekey.RoleStudent, rekey.StatusActive
		young[i].Version, young[i].SessionGen, young[i].PasswordHash = 1, 1, hash
		young[i].CreatedAt, young[i].UpdatedAt = w.clock.Now(), w.clock.Now()
		w.users[young[i].Username] = young[i]
	}
	if err := w.store.SeedUsers(w.ctx, young); err != nil {
		t.Fatalf("SeedUsers: %v", err)
	}
	task := w.start(t, "dana.admin", s1NoRoleSel, rekey.Delivery{Mode: rekey.DeliverGeneratedPasswords})
	w.run(t)
	passwords := w.csvPasswords(t, "dana.admin", task.ID)

	kid := regexp.MustCompile(`^[a-z]{3,5}-[a-z]{3,5}-[a-z]{3,5}[2-9]{2}$`)
	full := regexp.MustCompile(`^[a-z2-9]{5}(-[a-z2-9]{5}){3}$`)
	for username, wantKid := range map[string]bool{"kai.k": true, "uma.two": true, "raj.three": false, "jo.quill": false} {
		pw := passwords[username]
		if shape := map[bool]*regexp.Regexp{true: kid, false: full}[wantKid]; !shape.MatchString(pw) {
			t.Errorf("%s (grade %s): generated password %q, want shape %s", username, w.users[username].Grade, pw, shape)
		}
	}
}
