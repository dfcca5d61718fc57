package resets

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// fakeStore keeps everything in maps and applies the conditions the real
// store applies, so the service's concurrency rules can be tested without
// DynamoDB (the integration tests run the same flows against moto).
type fakeStore struct {
	mu        sync.Mutex
	users     map[string]rekey.User
	districts map[string]rekey.District
	schools   map[string]rekey.School
	counts    map[string]int
	audit     []rekey.AuditEntry
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		users: map[string]rekey.User{}, districts: map[string]rekey.District{}, schools: map[string]rekey.School{},
		counts: map[string]int{},
	}
}

func (f *fakeStore) GetUser(_ context.Context, id string) (rekey.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return rekey.User{}, fmt.Errorf("fake: user %s: %w", id, rekey.ErrNotFound)
	}
	return u, nil
}

func (f *fakeStore) findUser(match func(rekey.User) bool) (rekey.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if match(u) {
			return u, nil
		}
	}
	return rekey.User{}, fmt.Errorf("fake: user: %w", rekey.ErrNotFound)
}

func (f *fakeStore) GetUserByUsername(_ context.Context, username string) (rekey.User, error) {
	return f.findUser(func(u rekey.User) bool { return strings.EqualFold(u.Username, username) })
}

func (f *fakeStore) GetUserByEmail(_ context.Context, email string) (rekey.User, error) {
	return f.findUser(func(u rekey.User) bool { return u.Email != "" && strings.EqualFold(u.Email, email) })
}

func (f *fakeStore) GetDistrict(_ context.Context, id string) (rekey.District, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.districts[id]
	if !ok {
		return rekey.District{}, rekey.ErrNotFound
	}
	return d, nil
}

func (f *fakeStore) GetSchool(_ context.Context, id string) (rekey.School, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.schools[id]
	if !ok {
		return rekey.School{}, rekey.ErrNotFound
	}
	return s, nil
}

func (f *fakeStore) PutAudit(_ context.Context, e rekey.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, e)
	return nil
}

// checkVersion is the user write's condition; the caller holds mu.
func (f *fakeStore) checkVersion(before, after rekey.User) error {
	if f.users[before.ID].Version != before.Version || after.Version != before.Version+1 {
		return rekey.ErrVersionConflict
	}
	if after.Username != before.Username || after.Email != before.Email {
		return fmt.Errorf("fake: a reset may not change the username or email")
	}
	return nil
}

func (f *fakeStore) SaveReset(_ context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkVersion(before, after); err != nil {
		return err
	}
	f.users[after.ID] = after
	if audit != nil {
		f.audit = append(f.audit, *audit)
	}
	return nil
}

func (f *fakeStore) RedeemReset(_ context.Context, tokenHash string, before, after rekey.User, audit rekey.AuditEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stored := f.users[before.ID]; stored.ResetTokenHash != tokenHash && stored.SelfResetTokenHash != tokenHash {
		return rekey.ErrVersionConflict
	}
	if err := f.checkVersion(before, after); err != nil {
		return err
	}
	f.users[after.ID] = after
	f.audit = append(f.audit, audit)
	return nil
}

func (f *fakeStore) CountRequest(_ context.Context, key string, at time.Time, window time.Duration) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key + "#" + strconv.FormatInt(at.Truncate(window).Unix(), 10)
	f.counts[k]++
	return f.counts[k], nil
}

// auditOf returns the audit entries of action about target.
func (f *fakeStore) auditOf(target, action string) []rekey.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []rekey.AuditEntry
	for _, e := range f.audit {
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
func (q *fakeQueue) take(t *testing.T) []MailJob {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := make([]MailJob, 0, len(q.bodies))
	for _, b := range q.bodies {
		var j MailJob
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

// world is a service over a fake store holding a small district: every role,
// students with and without email, a disabled student, a student of a
// single sign-on school and a user of another district.
type world struct {
	svc   *Service
	store *fakeStore
	queue *fakeQueue
	clock *testclock.Clock
	users map[string]rekey.User // by username
}

// oldPassword is every seeded user's password.
const oldPassword = "seeded password of the demo"

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{store: newFakeStore(), queue: &fakeQueue{}, clock: testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)), users: map[string]rekey.User{}}
	w.store.districts[district] = rekey.District{ID: district, Name: "Riverbend Unified"}
	w.store.districts[otherDistrict] = rekey.District{ID: otherDistrict, Name: "Lakeside District"}
	w.store.schools[school1] = rekey.School{ID: school1, DistrictID: district, Name: "Northfield Elementary"}
	w.store.schools[school2] = rekey.School{ID: school2, DistrictID: district, Name: "Hillcrest High"}
	w.store.schools[ssoSchool] = rekey.School{ID: ssoSchool, DistrictID: district, Name: "Oakridge Academy", SSO: true, SSOURL: "https://sso.oakridge.example/login"}
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
		w.store.users[u.ID] = u
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
