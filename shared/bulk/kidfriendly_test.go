package bulk_test

import (
	"regexp"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// TestGeneratedPasswordsForYoungStudents: a generated-passwords task gives
// students up to the district's kidFriendlyMaxGrade (grade 2 while its
// settings were never saved) passwords of short words and digits, and
// older students full-strength ones; a district that chose 0 (K) gives a
// grade-2 student a full-strength one. The task captures the grade when it
// starts.
func TestGeneratedPasswordsForYoungStudents(t *testing.T) {
	t.Parallel()
	for _, test := range []struct {
		name         string
		district     *rekey.District // nil: the seeded district, never saved
		wantKid      map[string]bool
		wantCaptured int
	}{
		{"default district", nil, map[string]bool{"kai.k": true, "uma.two": true, "raj.three": false, "jo.quill": false}, 2},
		{"kindergarten only", &rekey.District{ID: "d1", Name: "Riverbend Unified", KidFriendlyMaxGrade: 0, Version: 3},
			map[string]bool{"kai.k": true, "uma.two": false, "raj.three": false, "jo.quill": false}, 0},
		{"up to grade 3", &rekey.District{ID: "d1", Name: "Riverbend Unified", KidFriendlyMaxGrade: 3, Version: 2},
			map[string]bool{"kai.k": true, "uma.two": true, "raj.three": true, "jo.quill": false}, 3},
	} {
		t.Run(test.name, func(t *testing.T) {
			t.Parallel()
			testGeneratedPasswordsForYoungStudents(t, test.district, test.wantKid, test.wantCaptured)
		})
	}
}

func testGeneratedPasswordsForYoungStudents(t *testing.T, district *rekey.District, wantKid map[string]bool, wantCaptured int) {
	w := newWorld(t, worldOptions{})
	if district != nil {
		if err := w.store.PutDistrict(w.ctx, *district); err != nil {
			t.Fatal(err)
		}
	}
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
	rec, err := w.store.GetTask(w.ctx, task.ID)
	if err != nil || rec.KidFriendlyMaxGrade == nil || *rec.KidFriendlyMaxGrade != wantCaptured {
		t.Fatalf("task record's kidFriendlyMaxGrade = %v (%v), want %d captured at start", rec.KidFriendlyMaxGrade, err, wantCaptured)
	}
	w.run(t)
	passwords := w.csvPasswords(t, "dana.admin", task.ID)

	kid := regexp.MustCompile(`^[a-z]{3,5}-[a-z]{3,5}-[a-z]{3,5}[2-9]{2}$`)
	full := regexp.MustCompile(`^[a-z2-9]{5}(-[a-z2-9]{5}){3}$`)
	for username, wantKid := range wantKid {
		pw := passwords[username]
		if shape := map[bool]*regexp.Regexp{true: kid, false: full}[wantKid]; !shape.MatchString(pw) {
			t.Errorf("%s (grade %s): generated password %q, want shape %s", username, w.users[username].Grade, pw, shape)
		}
	}
}
