package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// testDistrictSettings: a district's settings are written under its
// version (a district stored before settings existed is version 0), the
// audit entry goes with them, and a stale version writes nothing.
func testDistrictSettings(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	legacy := rekey.District{ID: "d1", Name: "Riverbend", Policy: rekey.PasswordPolicy{MinLengthStaff: 12}}
	if err := s.PutDistrict(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	before, err := s.GetDistrict(ctx, "d1")
	if err != nil || before.Version != 0 {
		t.Fatalf("GetDistrict(d1) = %+v, %v; want version 0", before, err)
	}
	after := before
	after.Version = 1
	after.ApprovalThreshold, after.KidFriendlyMaxGrade, after.Timezone = 500, 2, "America/Chicago"
	after.Policy.MinLengthStudent = 10
	after.Policy.StudentRaisedAt = t0.Add(time.Hour)
	entry := rekey.AuditEntry{ID: "a1", At: t0, DistrictID: "d1", ActorID: "u1", TargetID: "d1",
		Action: rekey.ActionSettingsUpdate, Outcome: rekey.OutcomeSuccess, RequestID: "r1",
		Before: map[string]any{"minLengthStudent": 8}, After: map[string]any{"minLengthStudent": 10}}
	if err := s.UpdateDistrict(ctx, before, after, &entry); err != nil {
		t.Fatalf("UpdateDistrict(version 0 → 1): %v", err)
	}
	got, err := s.GetDistrict(ctx, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(after, got); diff != "" {
		t.Errorf("GetDistrict after update (-want +got):\n%s", diff)
	}
	if page, err := s.ListAudit(ctx, "d1", 10, ""); err != nil || len(page.Items) != 1 || page.Items[0].Action != rekey.ActionSettingsUpdate {
		t.Errorf("ListAudit(d1) = %+v, %v; want the settings entry", page.Items, err)
	}

	// Stale: the version read before the update.
	stale := after
	stale.Version = 1
	stale.ApprovalThreshold = 7
	entry2 := entry
	entry2.ID = "a2"
	err = s.UpdateDistrict(ctx, before, stale, &entry2)
	wantErr(t, "UpdateDistrict(stale)", err, rekey.ErrVersionConflict)
	if got, _ := s.GetDistrict(ctx, "d1"); got.ApprovalThreshold != 500 || got.Version != 1 {
		t.Errorf("after a stale update the district is %+v, want it unchanged", got)
	}
	if page, _ := s.ListAudit(ctx, "d1", 10, ""); len(page.Items) != 1 {
		t.Errorf("a stale update left %d audit entries, want 1", len(page.Items))
	}
	// Missing district.
	err = s.UpdateDistrict(ctx, rekey.District{ID: "d9"}, rekey.District{ID: "d9", Version: 1}, nil)
	wantErr(t, "UpdateDistrict(missing)", err, rekey.ErrVersionConflict)
	if _, err := s.GetDistrict(ctx, "d9"); err == nil {
		t.Error("UpdateDistrict(missing) created the district")
	}
}
