package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/testclock"
)

// ScheduleStore is the schedule part of the contract: what the schedule
// service and its dispatcher (schedule.Store, schedule.DispatchStore) read
// and write.
type ScheduleStore interface {
	PutSchedule(ctx context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error
	GetSchedule(ctx context.Context, id string) (rekey.Schedule, error)
	UpdateSchedule(ctx context.Context, before, after rekey.Schedule, audit *rekey.AuditEntry) error
	DeleteSchedule(ctx context.Context, sc rekey.Schedule, audit *rekey.AuditEntry) error
	ListSchedules(ctx context.Context, f rekey.ScheduleFilter) (rekey.SchedulePage, error)
	DueSchedules(ctx context.Context, now time.Time, limit int, cursor string) (rekey.SchedulePage, error)
	AdvanceSchedule(ctx context.Context, id string, from, next, lastRunAt time.Time, lastTaskID, reason string) error
}

// sampleSchedule is an enabled schedule of district d1 with every field set.
func sampleSchedule(id, name string) rekey.Schedule {
	return rekey.Schedule{
		ID: id, DistrictID: "d1", Name: name,
		Expression: "cron(0 7 1 9 ? *)", Timezone: "Europe/London",
		Selection: rekey.Selection{Mode: rekey.SelectAllExcept, UserIDs: []string{"u1", "u2"}, SchoolID: "s1", Role: rekey.RoleStudent, Grade: "7"},
		Delivery:  rekey.Delivery{Mode: rekey.DeliverEmailLink},
		Enabled:   true, CreatedBy: "admin1", CreatedAt: t0, UpdatedAt: t0, Version: 1,
		NextRunAt: time.Date(2027, 9, 1, 6, 0, 0, 0, time.UTC),
		LastRunAt: t0.Add(-time.Hour), LastTaskID: "task0",
	}
}

func putSchedule(t *testing.T, s Store, sc rekey.Schedule) {
	t.Helper()
	if err := s.PutSchedule(context.Background(), sc, nil); err != nil {
		t.Fatalf("PutSchedule(%s): %v", sc.ID, err)
	}
}

// scheduleIDs are the ids of a page's schedules, never nil.
func scheduleIDs(page rekey.SchedulePage) []string {
	out := []string{}
	for _, sc := range page.Items {
		out = append(out, sc.ID)
	}
	return out
}

func testSchedules(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	want := sampleSchedule("sc1", "Autumn resets")
	audit := rekey.AuditEntry{ID: "a1", At: t0, TargetID: "sc1", ActorID: "admin1", Action: rekey.ActionScheduleCreate}
	wantErr(t, "PutSchedule", s.PutSchedule(ctx, want, &audit), nil)
	got, err := s.GetSchedule(ctx, "sc1")
	wantErr(t, "GetSchedule", err, nil)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetSchedule() mismatch (-want +got):\n%s", diff)
	}
	if page, err := s.ListAudit(ctx, "sc1", 10, ""); err != nil || len(page.Items) != 1 {
		t.Errorf("ListAudit(sc1) = %+v, %v; want the create entry", page.Items, err)
	}

	t.Run("put again is a conflict", func(t *testing.T) {
		wantErr(t, "PutSchedule(existing)", s.PutSchedule(ctx, want, nil), rekey.ErrConflict)
	})
	t.Run("the password of a delivery is never stored", func(t *testing.T) {
		sc := sampleSchedule("sc-pw", "Password")
		sc.Delivery.DefaultPassword = "correct horse battery staple"
		putSchedule(t, s, sc)
		got, err := s.GetSchedule(ctx, "sc-pw")
		if err != nil || got.Delivery.DefaultPassword != "" {
			t.Errorf("GetSchedule() delivery = %+v, %v; want no password", got.Delivery, err)
		}
	})
	t.Run("missing is not found", func(t *testing.T) {
		for _, id := range []string{"nope", ""} {
			_, err := s.GetSchedule(ctx, id)
			wantErr(t, "GetSchedule("+id+")", err, rekey.ErrNotFound)
		}
	})
	t.Run("id and creator are required", func(t *testing.T) {
		for _, sc := range []rekey.Schedule{sampleSchedule("", "No id"), {ID: "sc-nobody", Name: "No creator"}} {
			if err := s.PutSchedule(ctx, sc, nil); err == nil {
				t.Errorf("PutSchedule(%q by %q) succeeded, want an error", sc.ID, sc.CreatedBy)
			}
		}
	})
}

func testUpdateSchedule(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	before := sampleSchedule("sc1", "Autumn resets")
	putSchedule(t, s, before)
	// The dispatcher moves the schedule on meanwhile; a rename must keep it.
	advancedTo := before.NextRunAt.AddDate(1, 0, 0)
	wantErr(t, "AdvanceSchedule", s.AdvanceSchedule(ctx, "sc1", before.NextRunAt, advancedTo, before.NextRunAt, "task1", ""), nil)
	after := before
	after.Name, after.Version, after.UpdatedAt = "Renamed", 2, t0.Add(time.Minute)
	after.Selection = rekey.Selection{Mode: rekey.SelectAll}
	after.NeedsApproval, after.SubmittedBy = true, "admin1"
	wantErr(t, "UpdateSchedule", s.UpdateSchedule(ctx, before, after, &rekey.AuditEntry{TargetID: "sc1", Action: rekey.ActionScheduleUpdate}), nil)
	got, err := s.GetSchedule(ctx, "sc1")
	wantErr(t, "GetSchedule", err, nil)
	want := after
	want.NextRunAt, want.LastRunAt, want.LastTaskID = advancedTo, before.NextRunAt, "task1"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after rename (-want +got):\n%s", diff)
	}

	t.Run("stale version", func(t *testing.T) {
		stale := after
		stale.Name, stale.Version = "Stale", 2
		wantErr(t, "UpdateSchedule(stale)", s.UpdateSchedule(ctx, before, stale, &rekey.AuditEntry{TargetID: "sc1"}), rekey.ErrVersionConflict)
		if page, _ := s.ListAudit(ctx, "sc1", 10, ""); len(page.Items) != 1 {
			t.Errorf("audit entries after a failed update = %d, want 1", len(page.Items))
		}
		if got, _ := s.GetSchedule(ctx, "sc1"); got.Name != "Renamed" {
			t.Errorf("name after a failed update = %q, want Renamed", got.Name)
		}
	})
	t.Run("missing is a version conflict", func(t *testing.T) {
		gone := sampleSchedule("gone", "Gone")
		later := gone
		later.Version = 2
		wantErr(t, "UpdateSchedule(missing)", s.UpdateSchedule(ctx, gone, later, nil), rekey.ErrVersionConflict)
	})
	t.Run("version must follow", func(t *testing.T) {
		skip := want
		skip.Version = want.Version + 2
		if err := s.UpdateSchedule(ctx, want, skip, nil); err == nil {
			t.Error("UpdateSchedule(version skipped) succeeded, want an error")
		}
	})
	t.Run("approval is written and cleared", func(t *testing.T) {
		approved := want
		approved.Version, approved.ApprovedBy, approved.ApprovedAt = 3, "admin2", t0.Add(time.Hour)
		wantErr(t, "UpdateSchedule(approve)", s.UpdateSchedule(ctx, want, approved, nil), nil)
		again := approved
		again.Version, again.NeedsApproval, again.SubmittedBy, again.ApprovedBy, again.ApprovedAt = 4, false, "", "", time.Time{}
		wantErr(t, "UpdateSchedule(clear)", s.UpdateSchedule(ctx, approved, again, nil), nil)
		got, err := s.GetSchedule(ctx, "sc1")
		if diff := cmp.Diff(again, got); err != nil || diff != "" {
			t.Errorf("after clearing the approval: %v (-want +got):\n%s", err, diff)
		}
		want = again
	})
	t.Run("pause leaves the due index", func(t *testing.T) {
		paused := want
		paused.Enabled, paused.NextRunAt, paused.Version = false, time.Time{}, want.Version+1
		wantErr(t, "UpdateSchedule(pause)", s.UpdateSchedule(ctx, want, paused, nil), nil)
		page, err := s.DueSchedules(ctx, advancedTo.AddDate(5, 0, 0), 10, "")
		if err != nil || len(page.Items) != 0 {
			t.Errorf("DueSchedules() after pause = %+v, %v; want none", page.Items, err)
		}
		got, _ := s.GetSchedule(ctx, "sc1")
		if got.Enabled || !got.NextRunAt.IsZero() {
			t.Errorf("paused schedule = enabled %v, next %v; want paused, no next run", got.Enabled, got.NextRunAt)
		}
		wantErr(t, "AdvanceSchedule(paused)", s.AdvanceSchedule(ctx, "sc1", advancedTo, advancedTo.AddDate(1, 0, 0), advancedTo, "task2", ""), rekey.ErrConflict)
		resumed := paused
		resumed.Enabled, resumed.NextRunAt, resumed.Version = true, advancedTo, paused.Version+1
		wantErr(t, "UpdateSchedule(resume)", s.UpdateSchedule(ctx, paused, resumed, nil), nil)
		page, err = s.DueSchedules(ctx, advancedTo, 10, "")
		if err != nil || len(page.Items) != 1 {
			t.Errorf("DueSchedules() after resume = %+v, %v; want sc1", page.Items, err)
		}
	})
}

func testDeleteSchedule(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	sc := sampleSchedule("sc1", "Autumn resets")
	putSchedule(t, s, sc)
	stale := sc
	stale.Version = 7
	wantErr(t, "DeleteSchedule(stale)", s.DeleteSchedule(ctx, stale, &rekey.AuditEntry{TargetID: "sc1"}), rekey.ErrVersionConflict)
	if page, _ := s.ListAudit(ctx, "sc1", 10, ""); len(page.Items) != 0 {
		t.Errorf("audit entries after a failed delete = %d, want 0", len(page.Items))
	}
	wantErr(t, "DeleteSchedule", s.DeleteSchedule(ctx, sc, &rekey.AuditEntry{TargetID: "sc1", Action: rekey.ActionScheduleDelete}), nil)
	_, err := s.GetSchedule(ctx, "sc1")
	wantErr(t, "GetSchedule(deleted)", err, rekey.ErrNotFound)
	wantErr(t, "DeleteSchedule(deleted)", s.DeleteSchedule(ctx, sc, nil), rekey.ErrVersionConflict)
	if page, _ := s.DueSchedules(ctx, sc.NextRunAt, 10, ""); len(page.Items) != 0 {
		t.Errorf("DueSchedules() after delete = %+v, want none", page.Items)
	}
	wantErr(t, "AdvanceSchedule(deleted)", s.AdvanceSchedule(ctx, "sc1", sc.NextRunAt, sc.NextRunAt.AddDate(1, 0, 0), sc.NextRunAt, "t", ""), rekey.ErrConflict)
}

func testListSchedules(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	for i, spec := range []struct{ id, district, name, creator string }{
		{"a", "d1", "Charlie", "sa1"}, {"b", "d1", "alpha", "sa2"}, {"c", "d1", "Bravo", "sa1"},
		{"d", "d2", "Delta", "sa3"}, {"e", "", "Echo", "support1"},
	} {
		sc := sampleSchedule(spec.id, spec.name)
		sc.DistrictID, sc.CreatedBy = spec.district, spec.creator
		sc.NextRunAt = t0.Add(time.Duration(i) * time.Minute)
		putSchedule(t, s, sc)
	}
	for _, test := range []struct {
		name   string
		filter rekey.ScheduleFilter
		want   []string
	}{
		{"district, by name", rekey.ScheduleFilter{DistrictID: "d1"}, []string{"b", "c", "a"}},
		{"district and creator", rekey.ScheduleFilter{DistrictID: "d1", CreatedBy: "sa1"}, []string{"c", "a"}},
		{"other district", rekey.ScheduleFilter{DistrictID: "d2"}, []string{"d"}},
		{"all districts, no district first", rekey.ScheduleFilter{AllDistricts: true}, []string{"e", "b", "c", "a", "d"}},
		{"unknown district", rekey.ScheduleFilter{DistrictID: "d9"}, []string{}},
	} {
		t.Run(test.name, func(t *testing.T) {
			page, err := s.ListSchedules(ctx, test.filter)
			if err != nil {
				t.Fatalf("ListSchedules(%+v) error: %v", test.filter, err)
			}
			if diff := cmp.Diff(test.want, scheduleIDs(page)); diff != "" || page.Next != "" {
				t.Errorf("ListSchedules(%+v) = %v next %q (-want +got):\n%s", test.filter, scheduleIDs(page), page.Next, diff)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		for _, f := range []rekey.ScheduleFilter{{AllDistricts: true}, {DistrictID: "d1", CreatedBy: "sa1"}} {
			all, err := s.ListSchedules(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for range 5 {
				f.Limit = 2
				page, err := s.ListSchedules(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, scheduleIDs(page)...)
				if f.Cursor = page.Next; f.Cursor == "" {
					break
				}
			}
			if diff := cmp.Diff(scheduleIDs(all), got); diff != "" {
				t.Errorf("paged listing of %+v (-whole +paged):\n%s", f, diff)
			}
		}
	})
	t.Run("cursor of another listing", func(t *testing.T) {
		page, err := s.ListSchedules(ctx, rekey.ScheduleFilter{DistrictID: "d1", Limit: 1})
		if err != nil || page.Next == "" {
			t.Fatalf("first page = %+v, %v", page, err)
		}
		_, err = s.ListSchedules(ctx, rekey.ScheduleFilter{DistrictID: "d2", Cursor: page.Next})
		if rekey.ErrorCode(err) != rekey.ECodeInvalidCursor {
			t.Errorf("ListSchedules(d2, cursor of d1) = %v, want invalid_cursor", err)
		}
		_, err = s.DueSchedules(ctx, t0.Add(time.Hour), 10, page.Next)
		if rekey.ErrorCode(err) != rekey.ECodeInvalidCursor {
			t.Errorf("DueSchedules(cursor of a listing) = %v, want invalid_cursor", err)
		}
	})
	t.Run("district required", func(t *testing.T) {
		if _, err := s.ListSchedules(ctx, rekey.ScheduleFilter{}); err == nil {
			t.Error("ListSchedules(no district) succeeded, want an error")
		}
	})

	t.Run("due", func(t *testing.T) {
		paused := sampleSchedule("p", "Paused")
		paused.Enabled, paused.NextRunAt = false, time.Time{}
		putSchedule(t, s, paused)
		for _, test := range []struct {
			now  time.Time
			want []string
		}{
			{t0.Add(-time.Second), []string{}},
			{t0, []string{"a"}}, // due at exactly now
			{t0.Add(2*time.Minute + 30*time.Second), []string{"a", "b", "c"}},
			{t0.Add(time.Hour), []string{"a", "b", "c", "d", "e"}},
		} {
			got := []string{}
			cursor := ""
			for {
				page, err := s.DueSchedules(ctx, test.now, 2, cursor)
				if err != nil {
					t.Fatalf("DueSchedules(%v) error: %v", test.now, err)
				}
				got = append(got, scheduleIDs(page)...)
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("DueSchedules(%v) (-want +got):\n%s", test.now, diff)
			}
		}
	})
}

func testAdvanceSchedule(t *testing.T, s Store, _ *testclock.Clock) {
	ctx := context.Background()
	sc := sampleSchedule("sc1", "Last")
	putSchedule(t, s, sc)
	wantErr(t, "AdvanceSchedule(from another time)", s.AdvanceSchedule(ctx, "sc1", sc.NextRunAt.Add(time.Second), sc.NextRunAt.AddDate(1, 0, 0), sc.NextRunAt, "t", ""), rekey.ErrConflict)
	next := sc.NextRunAt.AddDate(1, 0, 0)
	wantErr(t, "AdvanceSchedule(skipped)", s.AdvanceSchedule(ctx, "sc1", sc.NextRunAt, next, sc.NextRunAt, "", "Skipped: why"), nil)
	got, err := s.GetSchedule(ctx, "sc1")
	if err != nil || !got.NextRunAt.Equal(next) || got.LastTaskID != "" || got.LastRunReason != "Skipped: why" || got.Version != sc.Version {
		t.Errorf("GetSchedule() = %+v, %v; want next run %v, no task, the reason, version unchanged", got, err, next)
	}
	wantErr(t, "AdvanceSchedule(to none)", s.AdvanceSchedule(ctx, "sc1", next, time.Time{}, next, "task1", ""), nil)
	got, err = s.GetSchedule(ctx, "sc1")
	if err != nil || !got.NextRunAt.IsZero() || got.LastTaskID != "task1" || got.LastRunReason != "" || !got.LastRunAt.Equal(next) || !got.Enabled {
		t.Errorf("GetSchedule() = %+v, %v; want enabled, no next run, last run %v, task1, no reason", got, err, next)
	}
	if page, _ := s.DueSchedules(ctx, next.AddDate(100, 0, 0), 10, ""); len(page.Items) != 0 {
		t.Errorf("DueSchedules() = %+v, want none", page.Items)
	}
}
