package dynamo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// The schedules' store behaviour is in the contract (storetest, run by
// TestContract against this store and memstore); here stay the run claims
// step by step and their race on real conditional writes.

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
