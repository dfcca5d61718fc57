package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule"
	"github.com/rekey/rekey/shared/testclock"
)

// TestMain starts moto for the tests that run on the DynamoDB store
// (newMotoEnv); the rest run on the in-memory store, whose behaviour the
// store contract (shared/dynamo/storetest) proves against DynamoDB.
func TestMain(m *testing.M) { mototest.Main(m) }

// Both stores satisfy what the service and the dispatcher need.
var (
	_ schedule.Store         = (*dynamo.Store)(nil)
	_ schedule.DispatchStore = (*dynamo.Store)(nil)
	_ store                  = (*dynamo.Store)(nil)
	_ store                  = (*memstore.Store)(nil)
)

// store is what the service and the dispatcher use, and what the tests
// seed and read besides.
type store interface {
	schedule.Store
	schedule.DispatchStore
	ListAudit(ctx context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error)
	GetRun(ctx context.Context, scheduleID string, occurrence time.Time) (rekey.ScheduleRun, error)
	PutSchool(ctx context.Context, s rekey.School) error
	PutDistrict(ctx context.Context, d rekey.District) error
	CreateUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error
	UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
}

// t0 is the tests' reference time: 1 August 2026, 10:00 UTC.
var t0 = time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)

// env is a store with a seeded district, a service and a clock set to t0.
type env struct {
	store store
	clock *testclock.Clock
	svc   *schedule.Service
	users map[string]rekey.User
}

// Seeded users, by id: d1 has schools s1 and s2, d2 has s3.
var seedUsers = []rekey.User{
	{ID: "sa1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin},
	{ID: "sa1peer", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin},
	{ID: "sa2", DistrictID: "d1", SchoolID: "s2", Role: rekey.RoleSchoolAdmin},
	{ID: "da1", DistrictID: "d1", Role: rekey.RoleDistrictAdmin},
	{ID: "da1off", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Status: rekey.StatusDisabled},
	{ID: "da2", DistrictID: "d2", Role: rekey.RoleDistrictAdmin},
	{ID: "sup", Role: rekey.RoleSupport},
	{ID: "t1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher},
	{ID: "st1", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleStudent},
}

// newEnv is an env on the in-memory store.
func newEnv(t *testing.T) *env {
	t.Helper()
	c := testclock.New(t0)
	return seedEnv(t, memstore.New(c.Now), c)
}

// newMotoEnv is an env on the DynamoDB store on a fresh moto table, for
// the tests whose point is the store's own behaviour (conditional writes
// under concurrency).
func newMotoEnv(t *testing.T) *env {
	t.Helper()
	cfg := mototest.Config(t)
	c := testclock.New(t0)
	return seedEnv(t, dynamo.New(dynamodb.NewFromConfig(cfg), mototest.Table(t, cfg), c.Now), c)
}

func seedEnv(t *testing.T, store store, c *testclock.Clock) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{store: store, clock: c, svc: schedule.NewService(store, nil, c.Now), users: map[string]rekey.User{}}
	for _, sc := range []rekey.School{{ID: "s1", DistrictID: "d1", Name: "North"}, {ID: "s2", DistrictID: "d1", Name: "South"}, {ID: "s3", DistrictID: "d2", Name: "East"}} {
		if err := store.PutSchool(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range seedUsers {
		u.Username, u.FirstName, u.LastName = "user."+u.ID, "First", u.ID
		if u.Status == "" {
			u.Status = rekey.StatusActive
		}
		u.Version, u.CreatedAt, u.UpdatedAt = 1, t0, t0
		if err := store.CreateUser(ctx, u, nil); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.ID, err)
		}
		e.users[u.ID] = u
	}
	return e
}

// user returns a seeded user.
func (e *env) user(t *testing.T, id string) rekey.User {
	t.Helper()
	u, ok := e.users[id]
	if !ok {
		t.Fatalf("no seeded user %q", id)
	}
	return u
}

// autumn is the product's example: the students of school s1, every
// 1 September at 07:00 London time, by email link.
func autumn() schedule.Input {
	return schedule.Input{
		Name:       "Autumn term resets",
		Expression: "cron(0 7 1 9 ? *)",
		Timezone:   "Europe/London",
		Selection:  rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "s1"},
		Delivery:   rekey.Delivery{Mode: rekey.DeliverEmailLink},
	}
}

// create saves a schedule as actor and fails the test on error.
func (e *env) create(t *testing.T, actorID string, in schedule.Input) rekey.Schedule {
	t.Helper()
	sc, err := e.svc.Create(context.Background(), e.user(t, actorID), in, "req-create")
	if err != nil {
		t.Fatalf("Create(%s, %+v) error: %v", actorID, in, err)
	}
	return sc
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
