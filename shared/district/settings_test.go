package district

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// testStore is what the tests need of a store: the service's and the
// writes that seed it.
type testStore interface {
	Store
	PutDistrict(ctx context.Context, d rekey.District) error
	CreateUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error
	GetUser(ctx context.Context, id string) (rekey.User, error)
	ListAudit(ctx context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error)
}

// stores are the stores the tests run on: memstore and DynamoDB in moto.
var stores = []struct {
	name string
	make func(t *testing.T, now func() time.Time) testStore
}{
	{"memstore", func(t *testing.T, now func() time.Time) testStore { return memstore.New(now) }},
	{"dynamo", func(t *testing.T, now func() time.Time) testStore {
		cfg := mototest.Config(t)
		return dynamo.New(dynamodb.NewFromConfig(cfg), mototest.Table(t, cfg), now)
	}},
}

var t0 = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

var admin = rekey.User{ID: "admin", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Status: rekey.StatusActive, FirstName: "Dee"}

// TestDryRunCountsOutdatedPasswords seeds a district of a few hundred
// users whose passwords were set under various minimums, and checks that
// the dry run of raising the minimums counts exactly those the raise
// outdates, writes nothing, and that the change itself writes only the
// district.
func TestDryRunCountsOutdatedPasswords(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			clock := testclock.New(t0)
			store := st.make(t, clock.Now)
			if err := store.PutDistrict(ctx, rekey.District{ID: "d1", Name: "Riverside"}); err != nil {
				t.Fatal(err)
			}
			if err := store.PutDistrict(ctx, rekey.District{ID: "d2", Name: "Lakeside"}); err != nil {
				t.Fatal(err)
			}
			// 230 users: students i%3 recorded 8 (outdated by 10), 10 (not),
			// or unrecorded (outdated: set before the raise); every 10th is
			// a teacher recorded 15 (staff unchanged); every 11th has no
			// password; every 13th is disabled; ten users of d2.
			wantStudents, wantStaff := 0, 0
			for i := range 230 {
				u := rekey.User{
					ID: fmt.Sprintf("u%03d", i), Username: fmt.Sprintf("user.%03d", i), DistrictID: "d1", SchoolID: "s1",
					Role: rekey.RoleStudent, Status: rekey.StatusActive, PasswordHash: "h", PasswordChangedAt: t0.Add(-time.Hour),
					PasswordMinLength: []int{8, 10, 0}[i%3], Version: 1, CreatedAt: t0, UpdatedAt: t0,
				}
				switch {
				case i >= 220:
					u.DistrictID, u.SchoolID = "d2", "s9"
				case i%10 == 0:
					u.Role, u.PasswordMinLength = rekey.RoleTeacher, 15
				case i%11 == 0:
					u.PasswordHash = ""
				case i%13 == 0:
					u.Status = rekey.StatusDisabled
				}
				if u.DistrictID == "d1" && u.Role == rekey.RoleStudent && u.PasswordHash != "" && u.Status == rekey.StatusActive && u.PasswordMinLength != 10 {
					wantStudents++
				}
				if u.DistrictID == "d1" && u.Role == rekey.RoleTeacher {
					wantStaff++
				}
				if err := store.CreateUser(ctx, u, nil); err != nil {
					t.Fatal(err)
				}
			}
			clock.Add(time.Minute)
			svc := NewService(store, clock.Now)
			v := func(n int) *int { return &n }

			res, err := svc.Update(ctx, admin, Patch{MinLengthStudent: v(10), Version: v(0), DryRun: true}, "r1")
			if err != nil || !res.DryRun || res.UsersToChangePassword == nil || *res.UsersToChangePassword != wantStudents {
				t.Fatalf("dry run = %+v, %v; want %d users", res, err, wantStudents)
			}
			if res.MinLengthStudent != 10 || res.Version != 0 {
				t.Errorf("dry run settings = %+v, want the student minimum 10 at version 0", res.DistrictSettings)
			}
			res, err = svc.Update(ctx, admin, Patch{MinLengthStaff: v(16), MinLengthStudent: v(10), Version: v(0), DryRun: true}, "r1")
			if err != nil || *res.UsersToChangePassword != wantStudents+wantStaff {
				t.Errorf("dry run of both = %+v, %v; want %d users", res, err, wantStudents+wantStaff)
			}
			if d, _ := store.GetDistrict(ctx, "d1"); d.Version != 0 || d.Policy.MinLengthStudent != 0 {
				t.Errorf("the dry runs wrote the district: %+v", d)
			}
			if page, _ := store.ListAudit(ctx, "d1", 10, ""); len(page.Items) != 0 {
				t.Errorf("the dry runs wrote %d audit entries", len(page.Items))
			}

			u005, _ := store.GetUser(ctx, "u005")
			res, err = svc.Update(ctx, admin, Patch{MinLengthStudent: v(10), Version: v(0)}, "r2")
			if err != nil || res.DryRun || res.UsersToChangePassword != nil || res.Version != 1 || res.MinLengthStudent != 10 {
				t.Fatalf("update = %+v, %v", res, err)
			}
			d, err := store.GetDistrict(ctx, "d1")
			if err != nil || !d.Policy.StudentRaisedAt.Equal(clock.Now()) || !d.Policy.StaffRaisedAt.IsZero() {
				t.Errorf("stored district = %+v, %v; want the student minimum raised now", d, err)
			}
			if d.Policy.Outdated(u005) != true {
				t.Errorf("u005 (recorded 8) is not outdated by the stored policy %+v", d.Policy)
			}
			if after, _ := store.GetUser(ctx, "u005"); !cmp.Equal(after, u005) {
				t.Errorf("the change wrote user u005: %+v", after)
			}
			// The same dry run now counts nobody: the rule is already in force.
			res, err = svc.Update(ctx, admin, Patch{MinLengthStudent: v(10), Version: v(1), DryRun: true}, "r3")
			if err != nil || *res.UsersToChangePassword != 0 {
				t.Errorf("dry run after the change = %+v, %v; want 0", res, err)
			}
			// Stale version: nothing written.
			if _, err := svc.Update(ctx, admin, Patch{ApprovalThreshold: v(5), Version: v(0)}, "r4"); rekey.ErrorCode(err) != rekey.ECodeVersionConflict {
				t.Errorf("stale update = %v, want version_conflict", err)
			}
			if d2, _ := store.GetDistrict(ctx, "d1"); !cmp.Equal(d2, d) {
				t.Errorf("a stale update changed the district to %+v", d2)
			}
		})
	}
}

func TestOnlyDistrictAdminsOfTheDistrict(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(time.Now)
	if err := store.PutDistrict(ctx, rekey.District{ID: "d1"}); err != nil {
		t.Fatal(err)
	}
	svc := NewService(store, nil)
	v := func(n int) *int { return &n }
	for _, actor := range []rekey.User{
		{ID: "sa", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleSchoolAdmin, Status: rekey.StatusActive},
		{ID: "t", DistrictID: "d1", SchoolID: "s1", Role: rekey.RoleTeacher, Status: rekey.StatusActive},
		{ID: "sup", Role: rekey.RoleSupport, Status: rekey.StatusActive},
		{ID: "off", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Status: rekey.StatusDisabled},
		{ID: "rr", DistrictID: "d1", Role: rekey.RoleDistrictAdmin, Status: rekey.StatusResetRequired},
	} {
		if _, err := svc.Settings(ctx, actor); rekey.ErrorCode(err) != rekey.ECodeForbidden {
			t.Errorf("Settings by %s = %v, want forbidden", actor.ID, err)
		}
		if _, err := svc.Update(ctx, actor, Patch{ApprovalThreshold: v(1), Version: v(0)}, "r"); rekey.ErrorCode(err) != rekey.ECodeForbidden {
			t.Errorf("Update by %s = %v, want forbidden", actor.ID, err)
		}
	}
	if d, _ := store.GetDistrict(ctx, "d1"); d.Version != 0 || d.ApprovalThreshold != 0 {
		t.Errorf("district changed: %+v", d)
	}
}

// TestApprovalThresholdFollowsTheSettings: the bulk service's threshold is
// the one a district admin saved; a district Rekey does not know has none;
// a store that cannot answer is an error, not "off".
func TestApprovalThresholdFollowsTheSettings(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(time.Now)
	if err := store.PutDistrict(ctx, rekey.District{ID: "d1"}); err != nil {
		t.Fatal(err)
	}
	svc := NewService(store, nil)
	if n, err := svc.ApprovalThreshold(ctx, "d1"); err != nil || n != 0 {
		t.Errorf("threshold before any setting = %d, %v; want 0 (off)", n, err)
	}
	v := func(n int) *int { return &n }
	if _, err := svc.Update(ctx, admin, Patch{ApprovalThreshold: v(250), Version: v(0)}, "r"); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.ApprovalThreshold(ctx, "d1"); err != nil || n != 250 {
		t.Errorf("threshold after saving 250 = %d, %v", n, err)
	}
	if n, err := svc.ApprovalThreshold(ctx, "nowhere"); err != nil || n != 0 {
		t.Errorf("threshold of an unknown district = %d, %v; want 0", n, err)
	}
	broken := NewService(failingStore{store}, nil)
	if _, err := broken.ApprovalThreshold(ctx, "d1"); err == nil {
		t.Error("a store that cannot be read gave a threshold")
	}
}

// failingStore fails every district read.
type failingStore struct{ Store }

func (failingStore) GetDistrict(context.Context, string) (rekey.District, error) {
	return rekey.District{}, fmt.Errorf("test: the table is unavailable")
}
