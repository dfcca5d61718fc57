// Package storetest is the contract of the data store that the services
// (auth, resets, users, api, bulk, mailworker, schedule) code against: one suite that runs against the
// DynamoDB store on moto (shared/dynamo) and the in-memory store
// (shared/memstore), so that the services' tests, which use the latter,
// test against the behaviour of the former. A case belongs here when a
// service relies on it: version conflicts, not found, username and email
// claims, conditional reset writes, paging, throttle reservations, bulk
// tasks and chunks (conditional transactions, leases), the mail outbox and
// schedule runs (leased claims), schedules (version conflicts, the due
// listing, the dispatcher's advance).
//
// It imports only the domain, so that both stores' tests can call it.
package storetest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// Store is the method set the contract covers: the union of the services'
// store interfaces (auth.Store and auth.ThrottleStore, resets.Store,
// users.Store, api.SecretStore, bulk.Store, the mail outbox and schedule
// runs) and the writes that seed them.
type Store interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
	GetUserByUsername(ctx context.Context, username string) (rekey.User, error)
	GetUserByEmail(ctx context.Context, email string) (rekey.User, error)
	GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error)
	CreateUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error
	UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
	ListUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error)
	WriteUsers(ctx context.Context, w rekey.UsersWrite) error
	GetUserByParentCode(ctx context.Context, hash string) (rekey.User, error)
	SaveReset(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
	RedeemReset(ctx context.Context, tokenHash string, before, after rekey.User, audit rekey.AuditEntry) error
	CountRequest(ctx context.Context, key string, at time.Time, window time.Duration) (int, error)
	PutAudit(ctx context.Context, e rekey.AuditEntry) error
	ListAudit(ctx context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error)
	ListAuditByActor(ctx context.Context, actorID string, limit int, cursor string) (rekey.AuditPage, error)
	PutDistrict(ctx context.Context, d rekey.District) error
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	UpdateDistrict(ctx context.Context, before, after rekey.District, audit *rekey.AuditEntry) error
	PutSchool(ctx context.Context, s rekey.School) error
	GetSchool(ctx context.Context, id string) (rekey.School, error)
	ListSchools(ctx context.Context, districtID string) ([]rekey.School, error)
	PutSession(ctx context.Context, s rekey.Session) error
	GetSession(ctx context.Context, tokenHash string) (rekey.Session, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	ReserveAttempt(ctx context.Context, key string, at time.Time, limit rekey.AttemptLimit) (rekey.Throttle, bool, error)
	ReleaseAttempt(ctx context.Context, key string, t rekey.Throttle) error
	GetThrottle(ctx context.Context, key string) (rekey.Throttle, error)
	LockThrottle(ctx context.Context, key string, until time.Time) error
	ClearThrottle(ctx context.Context, key string) error
	Secret(ctx context.Context, name string) ([]byte, error)
	BulkStore
	ScheduleStore
	FindUsers(ctx context.Context, districtID string, externalIDs, usernames, emails []string) ([]rekey.User, error)
}

// t0 is the suite's reference time (with nanoseconds, which stores keep).
var t0 = time.Date(2026, 9, 1, 7, 0, 0, 123456789, time.UTC)

// Run runs the contract against the stores newStore makes: an empty store
// (a fresh table) per subtest, reading the time from now.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) Store) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, s Store, clock *testclock.Clock)
	}{
		{"Users", testUsers},
		{"UpdateUser", testUpdateUser},
		{"GuardianLinks", testGuardianLinks},
		{"WriteUsers", testWriteUsers},
		{"Resets", testResets},
		{"ListUsers", testListUsers},
		{"Audit", testAudit},
		{"Places", testPlaces},
		{"DistrictSettings", testDistrictSettings},
		{"Sessions", testSessions},
		{"Throttles", testThrottles},
		{"CountRequest", testCountRequest},
		{"Secret", testSecret},
		{"Tasks", testTasks},
		{"ListTasks", testListTasks},
		{"Plan", testPlan},
		{"ChunkWrites", testChunkWrites},
		{"MailEvents", testMailEvents},
		{"Funnel", testFunnel},
		{"ChunkLeases", testChunkLeases},
		{"FinishNotice", testFinishNotice},
		{"CancelReachesWorkers", testCancelReachesWorkers},
		{"DailySends", testDailySends},
		{"Outbox", testOutbox},
		{"Runs", testRuns},
		{"Schedules", testSchedules},
		{"UpdateSchedule", testUpdateSchedule},
		{"DeleteSchedule", testDeleteSchedule},
		{"ListSchedules", testListSchedules},
		{"AdvanceSchedule", testAdvanceSchedule},
		{"ExternalIDs", testExternalIDs},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := testclock.New(t0)
			c.run(t, newStore(t, clock.Now), clock)
		})
	}
}

// wantErr fails t unless err wraps want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// user is a valid new user of district d1, school s1.
func user(id, username, email string) rekey.User {
	return rekey.User{
		ID: id, DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, Status: rekey.StatusActive,
		FirstName: "First " + id, LastName: "Last " + id, Username: username, Email: email,
		Version: 1, SessionGen: 1, CreatedAt: t0, UpdatedAt: t0,
	}
}

func create(t *testing.T, s Store, u rekey.User) rekey.User {
	t.Helper()
	if err := s.CreateUser(context.Background(), u, nil); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.ID, err)
	}
	return u
}

// next returns u as an update writes it: one version later.
func next(u rekey.User) rekey.User {
	u.Version++
	u.UpdatedAt = u.UpdatedAt.Add(time.Minute)
	return u
}

func testUsers(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	ann := create(t, s, user("u1", "ann.lee", "Ann@Example.org"))
	create(t, s, user("u2", "bo.kim", ""))

	for _, test := range []struct {
		name string
		get  func() (rekey.User, error)
		want string // user id, "" for not found
	}{
		{"by id", func() (rekey.User, error) { return s.GetUser(ctx, "u1") }, "u1"},
		{"missing id", func() (rekey.User, error) { return s.GetUser(ctx, "nobody") }, ""},
		{"empty id", func() (rekey.User, error) { return s.GetUser(ctx, "") }, ""},
		{"by username", func() (rekey.User, error) { return s.GetUserByUsername(ctx, "ann.lee") }, "u1"},
		{"by username in other case", func() (rekey.User, error) { return s.GetUserByUsername(ctx, "ANN.Lee") }, "u1"},
		{"missing username", func() (rekey.User, error) { return s.GetUserByUsername(ctx, "ann") }, ""},
		{"by email in other case", func() (rekey.User, error) { return s.GetUserByEmail(ctx, "ann@example.ORG") }, "u1"},
		{"empty email", func() (rekey.User, error) { return s.GetUserByEmail(ctx, "") }, ""},
		{"missing email", func() (rekey.User, error) { return s.GetUserByEmail(ctx, "bo@example.org") }, ""},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := test.get()
			if test.want == "" {
				wantErr(t, test.name, err, rekey.ErrNotFound)
				return
			}
			if err != nil || got.ID != test.want {
				t.Fatalf("got %q, %v; want %q", got.ID, err, test.want)
			}
		})
	}
	many, err := s.GetUsers(ctx, []string{"u2", "nobody", "u1"})
	if got := slices.Sorted(maps.Keys(many)); err != nil || !slices.Equal(got, []string{"u1", "u2"}) || many["u1"].Username != "ann.lee" {
		t.Errorf("GetUsers(u2, nobody, u1) = %v, %v; want u1 and u2", got, err)
	}
	if many, err := s.GetUsers(ctx, nil); err != nil || len(many) != 0 {
		t.Errorf("GetUsers(none) = %v, %v; want none", many, err)
	}
	got, err := s.GetUser(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ann, got); diff != "" {
		t.Errorf("GetUser(u1) differs from what was created (-want +got):\n%s", diff)
	}

	for _, test := range []struct {
		name string
		u    rekey.User
		want error
	}{
		{"same id", user("u1", "other", "other@example.org"), rekey.ErrConflict},
		{"username in other case", user("u3", "Ann.Lee", "new@example.org"), rekey.ErrUsernameTaken},
		{"email in other case", user("u3", "new", "ANN@example.org"), rekey.ErrEmailTaken},
		{"username checked before email", user("u3", "bo.kim", "ann@example.org"), rekey.ErrUsernameTaken},
	} {
		t.Run("create with taken "+test.name, func(t *testing.T) {
			wantErr(t, "CreateUser", s.CreateUser(ctx, test.u, &rekey.AuditEntry{TargetID: test.u.ID, Action: "user.create"}), test.want)
		})
	}
	// Nothing of the refused creations was written.
	if _, err := s.GetUser(ctx, "u3"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetUser(u3) after refused creations: %v, want not found", err)
	}
	if _, err := s.GetUserByUsername(ctx, "new"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("username of a refused creation is claimed: %v", err)
	}
	if page, err := s.ListAudit(ctx, "u3", 10, ""); err != nil || len(page.Items) != 0 {
		t.Errorf("audit of refused creations: %+v, %v; want none", page.Items, err)
	}
	// Two users without email do not clash.
	create(t, s, user("u4", "cy.ng", ""))
}

// testGuardianLinks: both sides of a guardian link are stored and read back
// by every read, and a caller's slices never alias what is stored.
func testGuardianLinks(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	g := user("g1", "pat.parent", "pat@home.example")
	g.Role, g.SchoolID = rekey.RoleGuardian, ""
	g.GuardianOf = []string{"c1", "c2"}
	create(t, s, g)
	c1 := user("c1", "kid.one", "")
	c1.Guardians = []string{"g1"}
	create(t, s, c1)
	g.GuardianOf[0] = "changed" // the caller's slice, after the write
	got, err := s.GetUser(ctx, "g1")
	if err != nil || !slices.Equal(got.GuardianOf, []string{"c1", "c2"}) || got.Role != rekey.RoleGuardian || len(got.Guardians) != 0 {
		t.Fatalf("GetUser(guardian) = %+v, %v; want guardianOf [c1 c2]", got, err)
	}
	got.GuardianOf[1] = "changed" // the reader's slice
	if again, _ := s.GetUser(ctx, "g1"); !slices.Equal(again.GuardianOf, []string{"c1", "c2"}) {
		t.Errorf("a reader's change reached the store: %v", again.GuardianOf)
	}
	if byName, err := s.GetUserByUsername(ctx, "kid.one"); err != nil || !slices.Equal(byName.Guardians, []string{"g1"}) {
		t.Errorf("GetUserByUsername(student) = %v, %v; want guardians [g1]", byName.Guardians, err)
	}
	many, err := s.GetUsers(ctx, []string{"g1", "c1"})
	if err != nil || !slices.Equal(many["g1"].GuardianOf, []string{"c1", "c2"}) || !slices.Equal(many["c1"].Guardians, []string{"g1"}) {
		t.Errorf("GetUsers = %+v, %v; want both sides", many, err)
	}
	page, err := s.ListUsers(ctx, rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleGuardian})
	if err != nil || len(page.Items) != 1 || !slices.Equal(page.Items[0].GuardianOf, []string{"c1", "c2"}) {
		t.Errorf("ListUsers(guardians) = %+v, %v; want g1 with its links", page.Items, err)
	}
	// Unlinking stores no list at all.
	stored, _ := s.GetUser(ctx, "c1")
	after := next(stored)
	after.Guardians = nil
	wantErr(t, "UpdateUser(unlink)", s.UpdateUser(ctx, stored, after, nil), nil)
	if got, _ := s.GetUser(ctx, "c1"); got.Guardians != nil {
		t.Errorf("Guardians after unlink = %#v, want nil", got.Guardians)
	}
}

// testWriteUsers: a guardian's registration (new guardian, linked student,
// parent code used up, audit) is written whole or not at all, and a code
// is used once.
func testWriteUsers(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	kid := create(t, s, user("c1", "kid", ""))
	withCode := next(kid)
	withCode.ParentCode = rekey.ParentCode{Hash: "h1", Sealed: []byte{1, 2}, SealedKey: []byte{3}, ExpiresAt: t0.Add(rekey.ParentCodeTTL)}
	wantErr(t, "put code", s.WriteUsers(ctx, rekey.UsersWrite{Updates: []rekey.UserUpdate{{Before: kid, After: withCode}},
		PutCodes: []rekey.ParentCodeClaim{{Hash: "h1", UserID: "c1"}}}), nil)
	found, err := s.GetUserByParentCode(ctx, "h1")
	if err != nil || found.ID != "c1" || !cmp.Equal(found.ParentCode, withCode.ParentCode) {
		t.Fatalf("GetUserByParentCode(h1) = %+v, %v; want c1 with its code", found.ParentCode, err)
	}
	wantErr(t, "GetUserByParentCode(unknown)", func() error { _, err := s.GetUserByParentCode(ctx, "nope"); return err }(), rekey.ErrNotFound)

	register := func(guardianID, username string, student rekey.User) rekey.UsersWrite {
		g := user(guardianID, username, username+"@home.example")
		g.Role, g.SchoolID, g.GuardianOf = rekey.RoleGuardian, "", []string{student.ID}
		linked := next(student)
		linked.ParentCode = rekey.ParentCode{}
		linked.Guardians = append(slices.Clone(student.Guardians), guardianID)
		return rekey.UsersWrite{Creates: []rekey.User{g}, Updates: []rekey.UserUpdate{{Before: student, After: linked}},
			UseCodes: []rekey.ParentCodeClaim{{Hash: "h1", UserID: student.ID}},
			Audit:    []rekey.AuditEntry{{ID: "a-" + guardianID, At: t0, TargetID: student.ID, Action: "guardian.register"}}}
	}
	wantErr(t, "register", s.WriteUsers(ctx, register("g1", "parent.one", withCode)), nil)
	stored, _ := s.GetUser(ctx, "c1")
	if g, err := s.GetUser(ctx, "g1"); err != nil || !slices.Equal(g.GuardianOf, []string{"c1"}) || !slices.Equal(stored.Guardians, []string{"g1"}) || stored.ParentCode.Hash != "" {
		t.Fatalf("after register: guardian %+v (%v), student guardians %v code %q", g.GuardianOf, err, stored.Guardians, stored.ParentCode.Hash)
	}
	if page, _ := s.ListAudit(ctx, "c1", 10, ""); len(page.Items) != 1 {
		t.Errorf("audit of the registration: %d entries, want 1", len(page.Items))
	}
	// The code is used: a second registration with it (even on a fresh
	// read of the student) writes nothing.
	wantErr(t, "register twice", s.WriteUsers(ctx, register("g2", "parent.two", stored)), rekey.ErrInvalidCode)
	if _, err := s.GetUser(ctx, "g2"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("a refused registration created its guardian: %v", err)
	}
	if _, err := s.GetUserByUsername(ctx, "parent.two"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("a refused registration claimed its username: %v", err)
	}
	if _, err := s.GetUserByParentCode(ctx, "h1"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetUserByParentCode(used) = %v, want not found", err)
	}
	// A stale student version refuses the whole write.
	again := next(kid)
	again.ParentCode = rekey.ParentCode{Hash: "h2", ExpiresAt: t0.Add(time.Hour)}
	g3 := user("g3", "parent.three", "")
	g3.Role, g3.SchoolID = rekey.RoleGuardian, ""
	wantErr(t, "stale", s.WriteUsers(ctx, rekey.UsersWrite{Creates: []rekey.User{g3}, Updates: []rekey.UserUpdate{{Before: kid, After: again}},
		PutCodes: []rekey.ParentCodeClaim{{Hash: "h2", UserID: "c1"}}}), rekey.ErrVersionConflict)
	if _, err := s.GetUser(ctx, "g3"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("a refused write created its user: %v", err)
	}
	if _, err := s.GetUserByParentCode(ctx, "h2"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("a refused write claimed its code: %v", err)
	}
	// A taken username refuses the whole write too.
	taken := user("g4", "kid", "")
	taken.Role, taken.SchoolID = rekey.RoleGuardian, ""
	wantErr(t, "taken", s.WriteUsers(ctx, rekey.UsersWrite{Creates: []rekey.User{taken}}), rekey.ErrUsernameTaken)
	wantErr(t, "empty", func() error {
		if err := s.WriteUsers(ctx, rekey.UsersWrite{}); err == nil {
			return errors.New("an empty write was accepted")
		}
		return nil
	}(), nil)
}

func testUpdateUser(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	ann := create(t, s, user("u1", "ann", "ann@example.org"))
	create(t, s, user("u2", "bo", "bo@example.org"))

	stale := next(ann)
	stale.FirstName = "Stale"
	renamed := next(ann)
	renamed.Username, renamed.Email = "Annie", "annie@example.org"
	audit := &rekey.AuditEntry{TargetID: "u1", ActorID: "admin", Action: "user.update", Outcome: "success"}
	if err := s.UpdateUser(ctx, ann, renamed, audit); err != nil {
		t.Fatalf("UpdateUser(rename): %v", err)
	}
	for _, test := range []struct {
		name          string
		before, after rekey.User
		want          error
	}{
		{"stale version", ann, stale, rekey.ErrVersionConflict},
		{"missing user", user("u9", "x", ""), next(user("u9", "x", "")), rekey.ErrVersionConflict},
		{"taken username", renamed, func() rekey.User { u := next(renamed); u.Username = "BO"; return u }(), rekey.ErrUsernameTaken},
		{"taken email", renamed, func() rekey.User { u := next(renamed); u.Email = "Bo@example.org"; return u }(), rekey.ErrEmailTaken},
	} {
		t.Run(test.name, func(t *testing.T) {
			wantErr(t, "UpdateUser", s.UpdateUser(ctx, test.before, test.after, &rekey.AuditEntry{TargetID: "u1", Action: "refused"}), test.want)
		})
	}
	// The refused updates wrote nothing.
	got, err := s.GetUser(ctx, "u1")
	if diff := cmp.Diff(renamed, got); err != nil || diff != "" {
		t.Errorf("GetUser(u1) after refused updates: %v; want the renamed user (-want +got):\n%s", err, diff)
	}
	if u, err := s.GetUserByUsername(ctx, "bo"); err != nil || u.ID != "u2" {
		t.Errorf("GetUserByUsername(bo) after refused updates = %q, %v; want u2", u.ID, err)
	}
	// The claims moved with the rename: the new names find the user, the
	// old ones are free.
	if u, err := s.GetUserByUsername(ctx, "annie"); err != nil || u.ID != "u1" {
		t.Errorf("GetUserByUsername(annie) = %q, %v", u.ID, err)
	}
	if u, err := s.GetUserByEmail(ctx, "ANNIE@example.org"); err != nil || u.ID != "u1" {
		t.Errorf("GetUserByEmail(annie@) = %q, %v", u.ID, err)
	}
	for _, get := range []func() (rekey.User, error){
		func() (rekey.User, error) { return s.GetUserByUsername(ctx, "ann") },
		func() (rekey.User, error) { return s.GetUserByEmail(ctx, "ann@example.org") },
	} {
		if u, err := get(); !errors.Is(err, rekey.ErrNotFound) {
			t.Errorf("old claim still finds %q, %v", u.ID, err)
		}
	}
	create(t, s, user("u3", "ann", "ann@example.org"))
	// A change of case only keeps the claim.
	recased := next(got)
	recased.Username = "ANNIE"
	if err := s.UpdateUser(ctx, got, recased, nil); err != nil {
		t.Fatalf("UpdateUser(recase): %v", err)
	}
	if u, err := s.GetUserByUsername(ctx, "annie"); err != nil || u.Username != "ANNIE" {
		t.Errorf("GetUserByUsername(annie) after recase = %+v, %v", u, err)
	}
	// Dropping the email frees its claim.
	noEmail := next(recased)
	noEmail.Email = ""
	if err := s.UpdateUser(ctx, recased, noEmail, nil); err != nil {
		t.Fatalf("UpdateUser(drop email): %v", err)
	}
	if u, err := s.GetUserByEmail(ctx, "annie@example.org"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetUserByEmail(annie@) after dropping it = %q, %v; want not found", u.ID, err)
	}
	create(t, s, user("u4", "dee", "annie@example.org"))
	recased = noEmail
	// Only the successful update was audited.
	page, err := s.ListAudit(ctx, "u1", 10, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].Action != "user.update" {
		t.Errorf("ListAudit(u1) = %+v, %v; want the one update", page.Items, err)
	}
	// An update that skips a version is refused, not written.
	if err := s.UpdateUser(ctx, recased, next(next(recased)), nil); err == nil {
		t.Error("UpdateUser skipping a version: no error")
	}
}

func testResets(t *testing.T, s Store, clock *testclock.Clock) {
	ctx := context.Background()
	u := create(t, s, user("u1", "ann", "ann@example.org"))

	pending := next(u)
	pending.ResetTokenHash, pending.ResetID = "hash-admin", "r1"
	if err := s.SaveReset(ctx, u, pending, nil); err != nil {
		t.Fatalf("SaveReset: %v", err)
	}
	self := next(pending)
	self.SelfResetTokenHash, self.SelfResetID = "hash-self", "r2"
	if err := s.SaveReset(ctx, pending, self, &rekey.AuditEntry{TargetID: "u1", Action: "reset.request"}); err != nil {
		t.Fatalf("SaveReset with audit: %v", err)
	}
	redeemed := next(self)
	redeemed.ResetTokenHash, redeemed.SelfResetTokenHash, redeemed.PasswordHash = "", "", "new-hash"
	renamed := next(self)
	renamed.Username = "other"

	for _, test := range []struct {
		name          string
		save          bool // SaveReset, else RedeemReset
		hash          string
		before, after rekey.User
		want          error // nil: some error other than a conflict
	}{
		{"save at stale version", true, "", u, next(u), rekey.ErrVersionConflict},
		{"redeem at stale version", false, "hash-admin", pending, next(pending), rekey.ErrVersionConflict},
		{"redeem a token not held", false, "hash-other", self, redeemed, rekey.ErrVersionConflict},
		{"save a rename", true, "", self, renamed, nil},
		{"redeem a rename", false, "hash-self", self, renamed, nil},
		{"redeem no token", false, "", self, redeemed, nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			var err error
			if test.save {
				err = s.SaveReset(ctx, test.before, test.after, nil)
			} else {
				err = s.RedeemReset(ctx, test.hash, test.before, test.after, rekey.AuditEntry{TargetID: "u1", Action: "reset.redeem"})
			}
			switch {
			case test.want != nil:
				wantErr(t, test.name, err, test.want)
			case err == nil || errors.Is(err, rekey.ErrVersionConflict):
				t.Fatalf("%s: error %v, want a refusal", test.name, err)
			}
		})
	}
	// Either slot's token redeems.
	clock.Add(time.Second) // audit entries stamped by the store sort by time
	if err := s.RedeemReset(ctx, "hash-self", self, redeemed, rekey.AuditEntry{TargetID: "u1", Action: "reset.redeem"}); err != nil {
		t.Fatalf("RedeemReset(self token): %v", err)
	}
	got, err := s.GetUser(ctx, "u1")
	if err != nil || got.Version != 4 || got.PasswordHash != "new-hash" || got.ResetTokenHash != "" {
		t.Errorf("GetUser after redeem = %+v, %v", got, err)
	}
	page, err := s.ListAudit(ctx, "u1", 10, "")
	var actions []string
	for _, e := range page.Items {
		actions = append(actions, e.Action)
	}
	if want := []string{"reset.redeem", "reset.request"}; err != nil || !slices.Equal(actions, want) {
		t.Errorf("audit actions = %v, %v; want %v", actions, err, want)
	}
}

// AllUsers walks every page of f and returns the ids listed, in order
// (never nil). It fails t when a page is nil or longer than f.Limit (as
// rekey.UserPaging clamps it), or when the pages do not end. The DynamoDB
// store's own listing test (its read budget, a larger population) walks
// its pages with it too.
func AllUsers(t *testing.T, s interface {
	ListUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error)
}, f rekey.UserFilter) []string {
	t.Helper()
	wantMax := rekey.UserPaging.Clamp(f.Limit)
	ids := []string{}
	for range 1000 {
		page, err := s.ListUsers(context.Background(), f)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", f, err)
		}
		if page.Items == nil {
			t.Fatalf("ListUsers(%+v) items = nil, want a non-nil slice", f)
		}
		if len(page.Items) > wantMax {
			t.Fatalf("ListUsers(%+v) gave %d users, more than the limit %d", f, len(page.Items), wantMax)
		}
		for _, u := range page.Items {
			ids = append(ids, u.ID)
		}
		if page.Next == "" {
			return ids
		}
		f.Cursor = page.Next
	}
	t.Fatalf("ListUsers(%+v) does not end", f)
	return nil
}

func testListUsers(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	for _, u := range []rekey.User{
		{ID: "a", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, FirstName: "Zoe", LastName: "Brook", Username: "zb", Grade: "5"},
		{ID: "b", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, FirstName: "Amy", LastName: "brook", Username: "ab", Grade: "6"},
		{ID: "c", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent, FirstName: "Cal", LastName: "Adams", Username: "ca", Email: "cal@example.org", Grade: "5"},
		{ID: "d", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleStudent, FirstName: "Dee", LastName: "Cole", Username: "dc"},
		{ID: "e", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher, FirstName: "Eve", LastName: "Adams", Username: "ea"},
		{ID: "f", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, FirstName: "Fay", LastName: "Dunn", Username: "fd"},
		{ID: "g", DistrictID: "d2", SchoolID: "s3", Role: rekey.RoleStudent, FirstName: "Gil", LastName: "Adams", Username: "ga"},
	} {
		u.Status, u.Version = rekey.StatusActive, 1
		create(t, s, u)
	}
	for _, test := range []struct {
		f    rekey.UserFilter
		want []string
		// ordered: the order is role, last name, first name; else any.
		ordered bool
	}{
		{rekey.UserFilter{DistrictID: "d1"}, []string{"f", "c", "b", "a", "d", "e"}, true},
		{rekey.UserFilter{DistrictID: "d1", Role: rekey.RoleStudent}, []string{"c", "b", "a", "d"}, true},
		{rekey.UserFilter{SchoolID: "s1"}, []string{"c", "b", "a", "e"}, true},
		{rekey.UserFilter{DistrictID: "d2", SchoolID: "s1"}, nil, true},
		{rekey.UserFilter{DistrictID: "d1", Grade: "5"}, []string{"c", "a"}, true},
		{rekey.UserFilter{DistrictID: "d1", Query: " BROOK "}, []string{"b", "a"}, true},
		{rekey.UserFilter{DistrictID: "d1", Query: "cal@"}, []string{"c"}, true},
		{rekey.UserFilter{DistrictID: "d1", Query: "amy brook"}, []string{"b"}, true},
		{rekey.UserFilter{}, []string{"a", "b", "c", "d", "e", "f", "g"}, false},
		{rekey.UserFilter{Role: rekey.RoleStudent}, []string{"a", "b", "c", "d", "g"}, false},
	} {
		for _, limit := range []int{1, 2, 50} {
			f := test.f
			f.Limit = limit
			got := AllUsers(t, s, f)
			if !test.ordered {
				slices.Sort(got)
			}
			if !slices.Equal(got, test.want) {
				t.Errorf("ListUsers(%+v) walked %v, want %v", f, got, test.want)
			}
		}
	}
	_, err := s.ListUsers(ctx, rekey.UserFilter{DistrictID: "d1", Cursor: "not a cursor"})
	if code := rekey.ErrorCode(err); code != rekey.ECodeInvalidCursor {
		t.Errorf("ListUsers(bad cursor) = %v (code %q), want %s", err, code, rekey.ECodeInvalidCursor)
	}
}

func testAudit(t *testing.T, s Store, clock *testclock.Clock) {
	ctx := context.Background()
	clock.Add(time.Hour) // stamps the entry without a time, the newest
	for i, e := range []rekey.AuditEntry{
		{ID: "e1", TargetID: "u1", ActorID: "a1", Action: "one"},
		{ID: "e2", TargetID: "u1", ActorID: "a2", Action: "two"},
		{ID: "e3", TargetID: "u2", ActorID: "a1", Action: "three"},
		{ID: "e4", TargetID: "u1", ActorID: "a1", Action: "four"},
		{TargetID: "u1", ActorID: "a1", Action: "five"}, // ID and At filled in
	} {
		if i < 4 {
			e.At = t0.Add(time.Duration(i) * time.Second)
		}
		if err := s.PutAudit(ctx, e); err != nil {
			t.Fatalf("PutAudit(%s): %v", e.Action, err)
		}
	}
	for _, test := range []struct {
		name string
		list func(limit int, cursor string) (rekey.AuditPage, error)
		want []string
	}{
		{"of u1", func(l int, c string) (rekey.AuditPage, error) { return s.ListAudit(ctx, "u1", l, c) }, []string{"five", "four", "two", "one"}},
		{"by a1", func(l int, c string) (rekey.AuditPage, error) { return s.ListAuditByActor(ctx, "a1", l, c) }, []string{"five", "four", "three", "one"}},
		{"of nobody", func(l int, c string) (rekey.AuditPage, error) { return s.ListAudit(ctx, "nobody", l, c) }, nil},
	} {
		for _, limit := range []int{1, 3, 10} {
			var got []string
			cursor := ""
			for range 20 {
				page, err := test.list(limit, cursor)
				if err != nil || len(page.Items) > limit {
					t.Fatalf("%s (limit %d): %d items, %v", test.name, limit, len(page.Items), err)
				}
				for _, e := range page.Items {
					got = append(got, e.Action)
					if e.ID == "" || e.At.IsZero() {
						t.Errorf("%s: entry %+v has no ID or At", test.name, e)
					}
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if !slices.Equal(got, test.want) {
				t.Errorf("%s (limit %d) = %v, want %v", test.name, limit, got, test.want)
			}
		}
	}
	_, err := s.ListAudit(ctx, "u1", 10, "not a cursor")
	if code := rekey.ErrorCode(err); code != rekey.ECodeInvalidCursor {
		t.Errorf("ListAudit(bad cursor) = %v (code %q), want %s", err, code, rekey.ECodeInvalidCursor)
	}
}

func testPlaces(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	d := rekey.District{ID: "d1", Name: "Riverbend"}
	if err := s.PutDistrict(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []rekey.School{
		{ID: "s1", DistrictID: "d1", Name: "oak"},
		{ID: "s2", DistrictID: "d1", Name: "Elm", SSO: true, SSOURL: "https://sso.example/", ExternalID: "org-7"},
		{ID: "s3", DistrictID: "d2", Name: "Ash"},
	} {
		if err := s.PutSchool(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetDistrict(ctx, "d1"); err != nil || got.ID != "d1" || got.Name != d.Name {
		t.Errorf("GetDistrict(d1) = %+v, %v", got, err)
	}
	if got, err := s.GetSchool(ctx, "s2"); err != nil || !got.SSO || got.SSOURL != "https://sso.example/" || got.DistrictID != "d1" || got.ExternalID != "org-7" {
		t.Errorf("GetSchool(s2) = %+v, %v", got, err)
	}
	_, err := s.GetDistrict(ctx, "d9")
	wantErr(t, "GetDistrict(d9)", err, rekey.ErrNotFound)
	_, err = s.GetSchool(ctx, "s9")
	wantErr(t, "GetSchool(s9)", err, rekey.ErrNotFound)
	for _, test := range []struct {
		district string
		want     []string
	}{{"d1", []string{"s2", "s1"}}, {"d2", []string{"s3"}}, {"d9", nil}} {
		schools, err := s.ListSchools(ctx, test.district)
		var got []string
		for _, sc := range schools {
			got = append(got, sc.ID)
		}
		if err != nil || !slices.Equal(got, test.want) {
			t.Errorf("ListSchools(%s) = %v, %v; want %v", test.district, got, err, test.want)
		}
	}
}

func testSessions(t *testing.T, s Store, clock *testclock.Clock) {
	ctx := context.Background()
	sess := rekey.Session{TokenHash: "h1", UserID: "u1", Generation: 2, CSRFTokenHash: "c1", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := s.PutSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(ctx, rekey.Session{TokenHash: "h2", UserID: "u1"}); err == nil {
		t.Error("PutSession without expiry: no error")
	}
	got, err := s.GetSession(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sess, got); diff != "" {
		t.Errorf("GetSession (-want +got):\n%s", diff)
	}
	seen := t0.Add(10 * time.Minute)
	if err := s.TouchSession(ctx, "h1", seen); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSession(ctx, "h1"); err != nil || !got.LastSeenAt.Equal(seen) {
		t.Errorf("LastSeenAt after touch = %v, %v; want %v", got.LastSeenAt, err, seen)
	}
	wantErr(t, "TouchSession(missing)", s.TouchSession(ctx, "nope", seen), rekey.ErrNotFound)
	_, err = s.GetSession(ctx, "nope")
	wantErr(t, "GetSession(missing)", err, rekey.ErrNotFound)

	clock.Set(sess.ExpiresAt)
	_, err = s.GetSession(ctx, "h1")
	wantErr(t, "GetSession(expired)", err, rekey.ErrNotFound)
	clock.Set(t0)
	wantErr(t, "DeleteSession", s.DeleteSession(ctx, "h1"), nil)
	_, err = s.GetSession(ctx, "h1")
	wantErr(t, "GetSession(deleted)", err, rekey.ErrNotFound)
	wantErr(t, "DeleteSession(missing)", s.DeleteSession(ctx, "h1"), nil)
}

func testThrottles(t *testing.T, s Store, clock *testclock.Clock) {
	ctx := context.Background()
	limit := rekey.AttemptLimit{Window: time.Hour, Max: 3}
	type step struct {
		at       time.Duration // after t0
		reserved bool
		failures int
	}
	reserve := func(t *testing.T, key string, limit rekey.AttemptLimit, steps []step) rekey.Throttle {
		t.Helper()
		var last rekey.Throttle
		for i, st := range steps {
			th, reserved, err := s.ReserveAttempt(ctx, key, t0.Add(st.at), limit)
			if err != nil || reserved != st.reserved || th.Failures != st.failures || th.Key != key {
				t.Fatalf("step %d: ReserveAttempt(%s, +%v) = %+v, %v, %v; want reserved %v with %d failures",
					i, key, st.at, th, reserved, err, st.reserved, st.failures)
			}
			last = th
		}
		return last
	}

	t.Run("max per window", func(t *testing.T) {
		th := reserve(t, "k1", limit, []step{{0, true, 1}, {time.Minute, true, 2}, {2 * time.Minute, true, 3}, {3 * time.Minute, false, 3}})
		if !th.FirstFailureAt.Equal(t0) || !th.LastFailureAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("counter = %+v, want first at t0, last at +2m", th)
		}
		// A new window opens when the old one has ended.
		reserve(t, "k1", limit, []step{{time.Hour, true, 1}, {time.Hour + time.Second, true, 2}})
	})
	t.Run("wait after failures", func(t *testing.T) {
		wait := rekey.AttemptLimit{Window: time.Hour, Max: 10, Wait: func(n int) time.Duration {
			if n >= 2 {
				return time.Minute
			}
			return 0
		}}
		reserve(t, "k2", wait, []step{{0, true, 1}, {0, true, 2}, {30 * time.Second, false, 2}, {time.Minute, true, 3}, {time.Minute + time.Second, false, 3}})
	})
	t.Run("release", func(t *testing.T) {
		th := reserve(t, "k3", limit, []step{{0, true, 1}, {time.Second, true, 2}})
		wantErr(t, "ReleaseAttempt", s.ReleaseAttempt(ctx, "k3", th), nil)
		reserve(t, "k3", limit, []step{{2 * time.Second, true, 2}})
		// An attempt of a window that has been replaced is not released
		// from the new one.
		reserve(t, "k3", limit, []step{{time.Hour, true, 1}})
		wantErr(t, "ReleaseAttempt(old window)", s.ReleaseAttempt(ctx, "k3", th), nil)
		reserve(t, "k3", limit, []step{{time.Hour + time.Second, true, 2}})
		// Releasing a key that has no counter is no error.
		wantErr(t, "ReleaseAttempt(none)", s.ReleaseAttempt(ctx, "k-none", th), nil)
	})
	t.Run("lock and clear", func(t *testing.T) {
		reserve(t, "k4", limit, []step{{0, true, 1}})
		until := t0.Add(15 * time.Minute)
		wantErr(t, "LockThrottle", s.LockThrottle(ctx, "k4", until), nil)
		th, reserved, err := s.ReserveAttempt(ctx, "k4", t0.Add(time.Minute), limit)
		if err != nil || reserved || !th.LockedUntil.Equal(until) || th.Failures != 1 {
			t.Errorf("ReserveAttempt while locked = %+v, %v, %v; want refused, locked until %v", th, reserved, err, until)
		}
		if th, err := s.GetThrottle(ctx, "k4"); err != nil || !th.LockedUntil.Equal(until) || th.Failures != 1 {
			t.Errorf("GetThrottle(k4) = %+v, %v", th, err)
		}
		// After the lock, the window still open counts on.
		reserve(t, "k4", limit, []step{{15 * time.Minute, true, 2}})
		wantErr(t, "ClearThrottle", s.ClearThrottle(ctx, "k4"), nil)
		if th, err := s.GetThrottle(ctx, "k4"); err != nil || th != (rekey.Throttle{Key: "k4"}) {
			t.Errorf("GetThrottle(k4) after clear = %+v, %v; want zero", th, err)
		}
		// A lock of a key without a counter is a lock all the same.
		wantErr(t, "LockThrottle(new key)", s.LockThrottle(ctx, "k5", until), nil)
		reserve(t, "k5", limit, []step{{0, false, 0}, {15 * time.Minute, true, 1}})
	})
	t.Run("state as of now", func(t *testing.T) {
		reserve(t, "k6", limit, []step{{0, true, 1}})
		clock.Set(t0.Add(time.Hour))
		defer clock.Set(t0)
		if th, err := s.GetThrottle(ctx, "k6"); err != nil || th != (rekey.Throttle{Key: "k6"}) {
			t.Errorf("GetThrottle(k6) after its window = %+v, %v; want zero", th, err)
		}
		if th, err := s.GetThrottle(ctx, "k-none"); err != nil || th != (rekey.Throttle{Key: "k-none"}) {
			t.Errorf("GetThrottle(none) = %+v, %v; want zero", th, err)
		}
	})
	t.Run("bad limit", func(t *testing.T) {
		for _, l := range []rekey.AttemptLimit{{Window: time.Hour}, {Max: 3}} {
			if _, _, err := s.ReserveAttempt(ctx, "k7", t0, l); err == nil {
				t.Errorf("ReserveAttempt(limit %+v): no error", l)
			}
		}
	})
}

func testCountRequest(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	window := 10 * time.Minute
	start := t0.Truncate(window)
	for i, test := range []struct {
		key  string
		at   time.Time
		want int
	}{
		{"a", start, 1},
		{"a", start.Add(window - time.Nanosecond), 2},
		{"b", start, 1},
		{"a", start.Add(window), 1},
		{"a", start.Add(time.Minute), 3},
	} {
		if got, err := s.CountRequest(ctx, test.key, test.at, window); err != nil || got != test.want {
			t.Errorf("%d: CountRequest(%s, %v) = %d, %v; want %d", i, test.key, test.at, got, err, test.want)
		}
	}
	if _, err := s.CountRequest(ctx, "a", t0, 0); err == nil {
		t.Error("CountRequest(window 0): no error")
	}
	// A sign-in throttle of the same key is another record.
	if th, err := s.GetThrottle(ctx, "a"); err != nil || th.Failures != 0 {
		t.Errorf("GetThrottle(a) after CountRequest = %+v, %v; want no failures", th, err)
	}
}

func testSecret(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	a, err := s.Secret(ctx, "cursor")
	if err != nil || len(a) != 32 {
		t.Fatalf("Secret(cursor) = %d bytes, %v; want 32", len(a), err)
	}
	again, err := s.Secret(ctx, "cursor")
	if err != nil || !slices.Equal(a, again) {
		t.Errorf("Secret(cursor) changed between calls: %v", err)
	}
	other, err := s.Secret(ctx, "other")
	if err != nil || slices.Equal(a, other) {
		t.Errorf("Secret(other) equals Secret(cursor): %v", err)
	}
}

// testExternalIDs: an externalId is unique within a district (claimed in
// the user's own write, moved by updates), and FindUsers finds users by
// externalId in one district and by username or email in any, ignoring
// values a user no longer holds.
func testExternalIDs(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	withExt := func(u rekey.User, ext string) rekey.User { u.ExternalID = ext; return u }
	ann := create(t, s, withExt(user("u1", "ann", "ann@example.org"), "S-1"))
	other := withExt(user("u2", "bo", ""), "S-1")
	other.DistrictID = "d2"
	create(t, s, other) // the same externalId in another district is fine
	err := s.CreateUser(ctx, withExt(user("u3", "cy", ""), "S-1"), nil)
	wantErr(t, "CreateUser(same externalId, same district)", err, rekey.ErrExternalIDTaken)
	if _, err := s.GetUser(ctx, "u3"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetUser(u3) after a refused create: %v, want not found", err)
	}
	cy := create(t, s, withExt(user("u3", "cy", ""), "S-3"))
	err = s.UpdateUser(ctx, cy, withExt(next(cy), "S-1"), nil)
	wantErr(t, "UpdateUser(to a taken externalId)", err, rekey.ErrExternalIDTaken)
	moved := withExt(next(ann), "S-9")
	if err := s.UpdateUser(ctx, ann, moved, nil); err != nil {
		t.Fatalf("UpdateUser(ann to S-9): %v", err)
	}
	if err := s.UpdateUser(ctx, cy, withExt(next(cy), "S-1"), nil); err != nil {
		t.Errorf("UpdateUser(cy to the freed S-1): %v", err)
	}

	for _, test := range []struct {
		name                   string
		district               string
		ext, usernames, emails []string
		want                   []string
	}{
		{"externalId", "d1", []string{"S-9"}, nil, nil, []string{"u1"}},
		{"externalId moved away", "d1", []string{"S-3"}, nil, nil, nil},
		{"externalId of another district", "d2", []string{"S-9"}, nil, nil, nil},
		{"externalId in its district", "d2", []string{"S-1"}, nil, nil, []string{"u2"}},
		{"username any district, any case", "d1", nil, []string{"BO"}, nil, []string{"u2"}},
		{"email", "d9", nil, nil, []string{"Ann@Example.org"}, []string{"u1"}},
		{"each once", "d1", []string{"S-9", "S-1"}, []string{"ann", "cy"}, []string{"ann@example.org"}, []string{"u1", "u3"}},
		{"nothing", "d1", []string{"nope", ""}, []string{""}, []string{""}, nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			users, err := s.FindUsers(ctx, test.district, test.ext, test.usernames, test.emails)
			var got []string
			for _, u := range users {
				got = append(got, u.ID)
			}
			slices.Sort(got)
			if err != nil || !slices.Equal(got, test.want) {
				t.Errorf("FindUsers = %v, %v; want %v", got, err, test.want)
			}
		})
	}
	// WriteUsers writes each user as CreateUser and UpdateUser do: with its
	// externalId claim.
	dee := withExt(user("u4", "dee", ""), "S-1")
	wantErr(t, "WriteUsers(create with a taken externalId)", s.WriteUsers(ctx, rekey.UsersWrite{Creates: []rekey.User{dee}}), rekey.ErrExternalIDTaken)
	dee.ExternalID = "S-4"
	wantErr(t, "WriteUsers(create)", s.WriteUsers(ctx, rekey.UsersWrite{Creates: []rekey.User{dee}}), nil)
	err = s.CreateUser(ctx, withExt(user("u5", "eve", ""), "S-4"), nil)
	wantErr(t, "CreateUser(externalId that WriteUsers claimed)", err, rekey.ErrExternalIDTaken)
	wantErr(t, "WriteUsers(update to a taken externalId)", s.WriteUsers(ctx, rekey.UsersWrite{Updates: []rekey.UserUpdate{{Before: dee, After: withExt(next(dee), "S-9")}}}), rekey.ErrExternalIDTaken)
	wantErr(t, "WriteUsers(update)", s.WriteUsers(ctx, rekey.UsersWrite{Updates: []rekey.UserUpdate{{Before: dee, After: withExt(next(dee), "S-5")}}}), nil)
	if users, err := s.FindUsers(ctx, "d1", []string{"S-4", "S-5"}, nil, nil); err != nil || len(users) != 1 || users[0].ID != "u4" || users[0].ExternalID != "S-5" {
		t.Errorf("FindUsers(S-4, S-5) after WriteUsers moved u4 to S-5 = %+v, %v; want u4 alone", users, err)
	}
}
