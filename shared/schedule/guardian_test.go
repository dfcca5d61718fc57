package schedule

import (
	"context"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// A guardian manages no schedules.
func TestGuardianHasNoSchedules(t *testing.T) {
	ctx := context.Background()
	svc := NewService(nil, nil, func() time.Time { return time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC) })
	g := rekey.User{ID: "g1", DistrictID: "d1", Role: rekey.RoleGuardian, Status: rekey.StatusActive}
	if _, err := svc.Create(ctx, g, Input{}, "r"); rekey.ErrorCode(err) != rekey.ECodeForbidden {
		t.Errorf("guardian Create = %v, want forbidden", err)
	}
	if _, err := svc.List(ctx, g, 0, ""); rekey.ErrorCode(err) != rekey.ECodeForbidden {
		t.Errorf("guardian List = %v, want forbidden", err)
	}
}
