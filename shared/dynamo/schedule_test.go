package dynamo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/rekey"
)

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

func TestScheduleStore(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	want := sampleSchedule("sc1", "Autumn resets")
	audit := rekey.AuditEntry{ID: "a1", At: t0, TargetID: "sc1", ActorID: "admin1", Action: rekey.ActionScheduleCreate}
	if err := s.PutSchedule(ctx, want, &audit); err != nil {
		t.Fatalf("PutSchedule() error: %v", err)
	}
	got, err := s.GetSchedule(ctx, "sc1")
	if err != nil {
		t.Fatalf("GetSchedule() error: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetSchedule() mismatch (-want +got):\n%s", diff)
	}
	if page, err := s.ListAudit(ctx, "sc1", 10, ""); err != nil || len(page.Items) != 1 {
		t.Errorf("ListAudit(sc1) = %+v, %v; want the create entry", page.Items, err)
	}

	t.Run("put again is a conflict", func(t *testing.T) {
		if err := s.PutSchedule(ctx, want, nil); !errors.Is(err, rekey.ErrConflict) {
			t.Errorf("PutSchedule(existing) = %v, want ErrConflict", err)
		}
	})
	t.Run("the password of a delivery is never stored", func(t *testing.T) {
		sc := sampleSchedule("sc-pw", "Password")
		sc.Delivery.DefaultPassword = "correct horse battery staple"
		if err := s.PutSchedule(ctx, sc, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSchedule(ctx, "sc-pw")
		if err != nil || got.Delivery.DefaultPassword != "" {
			t.Errorf("GetSchedule() delivery = %+v, %v; want no password", got.Delivery, err)
		}
	})
	t.Run("missing is not found", func(t *testing.T) {
		for _, id := range []string{"nope", ""} {
			if _, err := s.GetSchedule(ctx, id); !errors.Is(err, rekey.ErrNotFound) {
				t.Errorf("GetSchedule(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestUpdateSchedule(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	before := sampleSchedule("sc1", "Autumn resets")
	if err := s.PutSchedule(ctx, before, nil); err != nil {
		t.Fatal(err)
	}
	// The dispatcher moves the schedule on meanwhile; a rename must keep it.
	advancedTo := before.NextRunAt.AddDate(1, 0, 0)
	if err := s.AdvanceSchedule(ctx, "sc1", before.NextRunAt, advancedTo, before.NextRunAt, "task1", ""); err != nil {
		t.Fatalf("AdvanceSchedule() error: %v", err)
	}
	after := before
	after.Name, after.Version, after.UpdatedAt = "Renamed", 2, t0.Add(time.Minute)
	after.Selection = rekey.Selection{Mode: rekey.SelectAll}
	if err := s.UpdateSchedule(ctx, before, after, &rekey.AuditEntry{TargetID: "sc1", Action: rekey.ActionScheduleUpdate}); err != nil {
		t.Fatalf("UpdateSchedule() error: %v", err)
	}
	got, err := s.GetSchedule(ctx, "sc1")
	if err != nil {
		t.Fatal(err)
	}
	want := after
	want.NextRunAt, want.LastRunAt, want.LastTaskID = advancedTo, before.NextRunAt, "task1"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after rename (-want +got):\n%s", diff)
	}

	t.Run("stale version", func(t *testing.T) {
		stale := after
		stale.Name, stale.Version = "Stale", 2
		if err := s.UpdateSchedule(ctx, before, stale, nil); !errors.Is(err, rekey.ErrVersionConflict) {
			t.Errorf("UpdateSchedule(stale) = %v, want ErrVersionConflict", err)
		}
		if page, _ := s.ListAudit(ctx, "sc1", 10, ""); len(page.Items) != 1 {
			t.Errorf("audit entries after a failed update = %d, want 1", len(page.Items))
		}
	})
	t.Run("pause leaves the due index", func(t *testing.T) {
		paused := want
		paused.Enabled, paused.NextRunAt, paused.Version = false, time.Time{}, 3
		if err := s.UpdateSchedule(ctx, want, paused, nil); err != nil {
			t.Fatal(err)
		}
		page, err := s.DueSchedules(ctx, advancedTo.AddDate(5, 0, 0), 10, "")
		if err != nil || len(page.Items) != 0 {
			t.Errorf("DueSchedules() after pause = %+v, %v; want none", page.Items, err)
		}
		got, _ := s.GetSchedule(ctx, "sc1")
		if got.Enabled || !got.NextRunAt.IsZero() {
			t.Errorf("paused schedule = enabled %v, next %v; want paused, no next run", got.Enabled, got.NextRunAt)
		}
		if err := s.AdvanceSchedule(ctx, "sc1", advancedTo, advancedTo.AddDate(1, 0, 0), advancedTo, "task2", ""); !errors.Is(err, rekey.ErrConflict) {
			t.Errorf("AdvanceSchedule(paused) = %v, want ErrConflict", err)
		}
		resumed := paused
		resumed.Enabled, resumed.NextRunAt, resumed.Version = true, advancedTo, 4
		if err := s.UpdateSchedule(ctx, paused, resumed, nil); err != nil {
			t.Fatal(err)
		}
		page, err = s.DueSchedules(ctx, advancedTo, 10, "")
		if err != nil || len(page.Items) != 1 {
			t.Errorf("DueSchedules() after resume = %+v, %v; want sc1", page.Items, err)
		}
	})
}

func TestDeleteSchedule(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sc := sampleSchedule("sc1", "Autumn resets")
	if err := s.PutSchedule(ctx, sc, nil); err != nil {
		t.Fatal(err)
	}
	stale := sc
	stale.Version = 7
	if err := s.DeleteSchedule(ctx, stale, nil); !errors.Is(err, rekey.ErrVersionConflict) {
		t.Errorf("DeleteSchedule(stale) = %v, want ErrVersionConflict", err)
	}
	if err := s.DeleteSchedule(ctx, sc, &rekey.AuditEntry{TargetID: "sc1", Action: rekey.ActionScheduleDelete}); err != nil {
		t.Fatalf("DeleteSchedule() error: %v", err)
	}
	if _, err := s.GetSchedule(ctx, "sc1"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetSchedule(deleted) = %v, want ErrNotFound", err)
	}
	if page, _ := s.DueSchedules(ctx, sc.NextRunAt, 10, ""); len(page.Items) != 0 {
		t.Errorf("DueSchedules() after delete = %+v, want none", page.Items)
	}
	if err := s.AdvanceSchedule(ctx, "sc1", sc.NextRunAt, sc.NextRunAt.AddDate(1, 0, 0), sc.NextRunAt, "t", ""); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("AdvanceSchedule(deleted) = %v, want ErrConflict", err)
	}
}

func TestListSchedules(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for i, spec := range []struct{ id, district, name, creator string }{
		{"a", "d1", "Charlie", "sa1"}, {"b", "d1", "alpha", "sa2"}, {"c", "d1", "Bravo", "sa1"},
		{"d", "d2", "Delta", "sa3"}, {"e", "", "Echo", "support1"},
	} {
		sc := sampleSchedule(spec.id, spec.name)
		sc.DistrictID, sc.CreatedBy = spec.district, spec.creator
		sc.NextRunAt = t0.Add(time.Duration(i) * time.Minute)
		if err := s.PutSchedule(ctx, sc, nil); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(page rekey.SchedulePage) []string {
		out := []string{}
		for _, sc := range page.Items {
			out = append(out, sc.ID)
		}
		return out
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
			if diff := cmp.Diff(test.want, ids(page)); diff != "" || page.Next != "" {
				t.Errorf("ListSchedules(%+v) = %v next %q (-want +got):\n%s", test.filter, ids(page), page.Next, diff)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		var got []string
		cursor := ""
		for range 5 {
			page, err := s.ListSchedules(ctx, rekey.ScheduleFilter{AllDistricts: true, Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(page)...)
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if diff := cmp.Diff([]string{"e", "b", "c", "a", "d"}, got); diff != "" {
			t.Errorf("paged listing (-want +got):\n%s", diff)
		}
	})
	t.Run("cursor of another district", func(t *testing.T) {
		page, err := s.ListSchedules(ctx, rekey.ScheduleFilter{DistrictID: "d1", Limit: 1})
		if err != nil || page.Next == "" {
			t.Fatalf("first page = %+v, %v", page, err)
		}
		if _, err := s.ListSchedules(ctx, rekey.ScheduleFilter{DistrictID: "d2", Cursor: page.Next}); rekey.ErrorCode(err) != rekey.ECodeInvalidCursor {
			t.Errorf("ListSchedules(d2, cursor of d1) = %v, want invalid_cursor", err)
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
		if err := s.PutSchedule(ctx, paused, nil); err != nil {
			t.Fatal(err)
		}
		for _, test := range []struct {
			now  time.Time
			want []string
		}{
			{t0.Add(-time.Second), []string{}},
			{t0, []string{"a"}}, // due at exactly now
			{t0.Add(2*time.Minute + 30*time.Second), []string{"a", "b", "c"}},
			{t0.Add(time.Hour), []string{"a", "b", "c", "d", "e"}},
		} {
			var got []string
			cursor := ""
			for {
				page, err := s.DueSchedules(ctx, test.now, 2, cursor)
				if err != nil {
					t.Fatalf("DueSchedules(%v) error: %v", test.now, err)
				}
				got = append(got, ids(page)...)
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if got == nil {
				got = []string{}
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("DueSchedules(%v) (-want +got):\n%s", test.now, diff)
			}
		}
	})
}

func TestAdvanceScheduleToNoMoreRuns(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sc := sampleSchedule("sc1", "Last")
	if err := s.PutSchedule(ctx, sc, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AdvanceSchedule(ctx, "sc1", sc.NextRunAt, time.Time{}, sc.NextRunAt, "", ""); err != nil {
		t.Fatalf("AdvanceSchedule(to none) error: %v", err)
	}
	got, err := s.GetSchedule(ctx, "sc1")
	if err != nil || !got.NextRunAt.IsZero() || got.LastTaskID != "" || !got.LastRunAt.Equal(sc.NextRunAt) || !got.Enabled {
		t.Errorf("GetSchedule() = %+v, %v; want enabled, no next run, last run %v, no task", got, err, sc.NextRunAt)
	}
	if page, _ := s.DueSchedules(ctx, sc.NextRunAt.AddDate(100, 0, 0), 10, ""); len(page.Items) != 0 {
		t.Errorf("DueSchedules() = %+v, want none", page.Items)
	}
}

func TestScheduleRunClaims(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const lease = 5 * time.Minute
	occurrence := time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC)
	at := occurrence.Add(10 * time.Second)

	first, err := s.ClaimRun(ctx, "sc1", occurrence, at, lease)
	if err != nil {
		t.Fatalf("first ClaimRun: %v", err)
	}
	if first.State != rekey.RunClaimed || first.Attempts != 1 || first.ClaimID == "" || !first.LeaseUntil.Equal(at.Add(lease)) || !first.Occurrence.Equal(occurrence) {
		t.Errorf("first claim = %+v, want claimed, attempt 1, a claim id, lease until %v", first, at.Add(lease))
	}
	if _, err := s.ClaimRun(ctx, "sc1", occurrence, at.Add(lease-time.Second), lease); !errors.Is(err, rekey.ErrRunBusy) {
		t.Errorf("claim during the lease = %v, want ErrRunBusy", err)
	}
	// Another occurrence of the same schedule is independent.
	if _, err := s.ClaimRun(ctx, "sc1", occurrence.Add(time.Minute), at, lease); err != nil {
		t.Errorf("claim of another occurrence = %v, want success", err)
	}
	// The first dispatcher died; after its lease another takes over.
	second, err := s.ClaimRun(ctx, "sc1", occurrence, at.Add(lease), lease)
	if err != nil {
		t.Fatalf("claim after the lease: %v", err)
	}
	if second.Attempts != 2 || second.ClaimID == first.ClaimID {
		t.Errorf("second claim = %+v, want attempt 2 with a new claim id", second)
	}
	first.State, first.TaskID = rekey.RunStarted, "task-late"
	if err := s.RecordRun(ctx, first); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("RecordRun with a lost claim = %v, want ErrConflict", err)
	}
	second.State, second.TaskID, second.UpdatedAt = rekey.RunStarted, "task1", at.Add(lease)
	if err := s.RecordRun(ctx, second); err != nil {
		t.Fatalf("RecordRun(started): %v", err)
	}
	got, err := s.ClaimRun(ctx, "sc1", occurrence, at.Add(24*time.Hour), lease)
	if !errors.Is(err, rekey.ErrRunFinished) || got.TaskID != "task1" || got.State != rekey.RunStarted {
		t.Errorf("claim after start = %+v, %v; want ErrRunFinished with task1", got, err)
	}
	stored, err := s.GetRun(ctx, "sc1", occurrence)
	if err != nil || !stored.LeaseUntil.IsZero() || stored.TaskID != "task1" || stored.Attempts != 2 {
		t.Errorf("GetRun() = %+v, %v; want started with task1, no lease, 2 attempts", stored, err)
	}
	if _, err := s.GetRun(ctx, "sc1", occurrence.Add(time.Hour)); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("GetRun(unknown) = %v, want ErrNotFound", err)
	}

	t.Run("failed", func(t *testing.T) {
		r, err := s.ClaimRun(ctx, "sc2", occurrence, at, lease)
		if err != nil {
			t.Fatal(err)
		}
		r.State, r.Reason = rekey.RunFailed, "The schedule's creator is disabled."
		if err := s.RecordRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClaimRun(ctx, "sc2", occurrence, at.Add(time.Hour), lease); !errors.Is(err, rekey.ErrRunFinished) || got.Reason != r.Reason {
			t.Errorf("claim after failure = %+v, %v; want ErrRunFinished with the reason", got, err)
		}
	})
	t.Run("bad outcomes", func(t *testing.T) {
		r, err := s.ClaimRun(ctx, "sc3", occurrence, at, lease)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []rekey.ScheduleRun{
			{ScheduleID: "sc3", Occurrence: occurrence, ClaimID: r.ClaimID, State: rekey.RunStarted},
			{ScheduleID: "sc3", Occurrence: occurrence, ClaimID: r.ClaimID, State: rekey.RunFailed},
			{ScheduleID: "sc3", Occurrence: occurrence, ClaimID: r.ClaimID, State: rekey.RunClaimed},
			{ScheduleID: "sc3", Occurrence: occurrence, State: rekey.RunStarted, TaskID: "t"},
		} {
			if err := s.RecordRun(ctx, bad); err == nil {
				t.Errorf("RecordRun(%+v) succeeded, want an error", bad)
			}
		}
	})
}

// TestScheduleRunClaimRace has many dispatchers claim one occurrence at
// once: exactly one wins.
func TestScheduleRunClaimRace(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	occurrence := time.Date(2026, 9, 1, 6, 0, 0, 0, time.UTC)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.ClaimRun(ctx, "sc1", occurrence, occurrence, time.Minute)
			errs <- err
		}()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, rekey.ErrRunBusy):
			t.Errorf("ClaimRun() = %v, want success or ErrRunBusy", err)
		}
	}
	if won != 1 {
		t.Errorf("claims won = %d, want 1", won)
	}
}
