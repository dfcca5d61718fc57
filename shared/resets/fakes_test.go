package resets

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// auditOf returns the audit entries of action about target.
func auditOf(s *memstore.Store, target, action string) []rekey.AuditEntry {
	var out []rekey.AuditEntry
	for _, e := range s.Audit() {
		if e.TargetID == target && e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// fakeQueue records the jobs sent, as the JSON the real queue would carry.
type fakeQueue struct {
	mu     sync.Mutex
	bodies []string
	fail   error
}

func (q *fakeQueue) Send(_ context.Context, message any) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	b, err := json.Marshal(message)
	if err != nil {
		return err
	}
	q.bodies = append(q.bodies, string(b))
	return nil
}

// take returns and forgets the queued jobs.
func (q *fakeQueue) take(t *testing.T) []rekey.MailJob {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := make([]rekey.MailJob, 0, len(q.bodies))
	for _, b := range q.bodies {
		var j rekey.MailJob
		if err := json.Unmarshal([]byte(b), &j); err != nil {
			t.Fatalf("queued body %s: %v", b, err)
		}
		jobs = append(jobs, j)
	}
	q.bodies = nil
	return jobs
}

// fastHasher keeps tests quick; production uses password.DefaultParams.
var fastHasher = password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}

// The demo world's ids.
const (
	district      = "d1"
	otherDistrict = "d2"
	school1       = "s1"
	school2       = "s2"
	ssoSchool     = "s3"
)

// world is a service over an in-memory store holding a small district: every role,
// students with and without email, a disabled student, a student of a
// single sign-on school and a user of another district.
type world struct {
	svc   *Service
	store *memstore.Store
	queue *fakeQueue
	clock *testclock.Clock
	users map[string]rekey.User // by username
}

// oldPassword is every seeded user's password.
const oldPassword = "seeded password of the demo"

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
	w := &world{store: memstore.New(clock.Now), queue: &fakeQueue{}, clock: clock, users: map[string]rekey.User{}}
	for _, d := range []rekey.District{
		{ID: district, Name: "Riverbend Unified"},
		{ID: otherDistrict, Name: "Lakeside District"},
	} {
		if err := w.store.PutDistrict(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []rekey.School{
		{ID: school1, DistrictID: district, Name: "Northfield Elementary"},
		{ID: school2, DistrictID: district, Name: "Hillcrest High"},
		{ID: ssoSchool, DistrictID: district, Name: "Oakridge Academy", SSO: true, SSOURL: "https://sso.oakridge.example/login"},
	} {
		if err := w.store.PutSchool(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	hash, err := fastHasher.Hash(oldPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []rekey.User{
		{ID: "support1", Role: rekey.RoleSupport, Username: "support", Email: "support@rekey.example"},
		{ID: "da1", DistrictID: district, Role: rekey.RoleDistrictAdmin, Username: "district.admin", Email: "da@riverbend.example"},
		{ID: "da2", DistrictID: district, Role: rekey.RoleDistrictAdmin, Username: "district.admin2", Email: "da2@riverbend.example"},
		{ID: "sa1", DistrictID: district, SchoolID: school1, Role: rekey.RoleSchoolAdmin, Username: "school.admin", Email: "sa@riverbend.example"},
		{ID: "sa2", DistrictID: district, SchoolID: school1, Role: rekey.RoleSchoolAdmin, Username: "school.admin2", Email: "sa2@riverbend.example"},
		{ID: "t1", DistrictID: district, SchoolID: school1, Role: rekey.RoleTeacher, Username: "teacher", Email: "teacher@riverbend.example"},
		{ID: "t2", DistrictID: district, SchoolID: school1, Role: rekey.RoleTeacher, Username: "teacher2", Email: "teacher2@riverbend.example"},
		{ID: "st1", DistrictID: district, SchoolID: school1, Role: rekey.RoleStudent, Username: "jo.student", FirstName: "Jo", LastName: "Quill", Email: "jo@riverbend.example"},
		{ID: "st2", DistrictID: district, SchoolID: school1, Role: rekey.RoleStudent, Username: "no.email", FirstName: "Nia", LastName: "Moss"},
		{ID: "st3", DistrictID: district, SchoolID: school2, Role: rekey.RoleStudent, Username: "other.school", Email: "other@riverbend.example"},
		{ID: "st4", DistrictID: district, SchoolID: school1, Role: rekey.RoleStudent, Username: "disabled.student", Email: "off@riverbend.example", Status: rekey.StatusDisabled},
		{ID: "st5", DistrictID: district, SchoolID: ssoSchool, Role: rekey.RoleStudent, Username: "sso.student", Email: "sso@riverbend.example"},
		{ID: "st6", DistrictID: district, SchoolID: school1, Role: rekey.RoleStudent, Username: "sam.student", FirstName: "Sam", Email: "sam@riverbend.example"},
		{ID: "x1", DistrictID: otherDistrict, SchoolID: "x-school", Role: rekey.RoleStudent, Username: "foreign", Email: "foreign@lakeside.example"},
	} {
		if u.Status == "" {
			u.Status = rekey.StatusActive
		}
		u.Version, u.SessionGen, u.PasswordHash = 1, 1, hash
		if err := w.store.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		w.users[u.Username] = u
	}
	svc, err := NewService(Config{}, Deps{Store: w.store, Queue: w.queue, Hasher: fastHasher, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

// user returns the stored user with the given username, as it is now.
func (w *world) user(t *testing.T, username string) rekey.User {
	t.Helper()
	u, err := w.store.GetUserByUsername(context.Background(), username)
	if err != nil {
		t.Fatalf("user %s: %v", username, err)
	}
	return u
}

// edit writes u over the stored user as another writer would, one version
// later.
func (w *world) edit(t *testing.T, u rekey.User) {
	t.Helper()
	if err := w.store.Edit(context.Background(), u); err != nil {
		t.Fatal(err)
	}
}

// mailFor runs the queued jobs through PrepareMail, as the worker would,
// and returns what each sends.
func (w *world) mailFor(t *testing.T) []Outgoing {
	t.Helper()
	var out []Outgoing
	for _, job := range w.queue.take(t) {
		o, err := w.svc.PrepareMail(context.Background(), job)
		if err != nil {
			t.Fatalf("PrepareMail(%+v): %v", job, err)
		}
		out = append(out, o)
	}
	return out
}

// linkToken starts an admin link reset of username by da1 and returns the
// emailed token.
func (w *world) linkToken(t *testing.T, username string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := w.svc.ResetByLink(ctx, w.users["district.admin"], w.users[username].ID, "req-link"); err != nil {
		t.Fatalf("ResetByLink(%s): %v", username, err)
	}
	out := w.mailFor(t)
	if len(out) != 1 || out[0].Token == "" {
		t.Fatalf("ResetByLink(%s) mailed %+v, want one link", username, out)
	}
	return out[0].Token
}
