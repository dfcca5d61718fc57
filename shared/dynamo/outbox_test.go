package dynamo

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

func TestDeliveryClaims(t *testing.T) {
	ctx := context.Background()
	s, _ := newResetStore(t)
	const key, lease = "reset_link#r1", 2 * time.Minute
	at := resetT0

	first, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, at, lease)
	if err != nil {
		t.Fatalf("first ClaimDelivery: %v", err)
	}
	if first.State != rekey.DeliverySending || first.Attempts != 1 || first.ClaimID == "" || !first.LeaseUntil.Equal(at.Add(lease)) {
		t.Errorf("first claim = %+v, want SENDING, attempt 1, a claim id, lease until %v", first, at.Add(lease))
	}
	// A live claim keeps others out.
	if _, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, at.Add(lease-time.Second), lease); !errors.Is(err, rekey.ErrDeliveryBusy) {
		t.Errorf("claim during the lease = %v, want ErrDeliveryBusy", err)
	}
	// A failed attempt releases the claim with its error.
	first.State, first.LastError, first.UpdatedAt = rekey.DeliveryPending, "send failed: throttled", at
	if err := s.SaveDelivery(ctx, first); err != nil {
		t.Fatalf("SaveDelivery(PENDING): %v", err)
	}
	second, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, at.Add(time.Second), lease)
	if err != nil {
		t.Fatalf("claim after a failed attempt: %v", err)
	}
	if second.Attempts != 2 || second.ClaimID == first.ClaimID || second.LastError != "send failed: throttled" {
		t.Errorf("second claim = %+v, want attempt 2 with a new claim id, keeping the last error", second)
	}
	// The first attempt can no longer record anything.
	first.State = rekey.DeliverySent
	if err := s.SaveDelivery(ctx, first); !errors.Is(err, rekey.ErrConflict) {
		t.Errorf("SaveDelivery with a released claim = %v, want ErrConflict", err)
	}
	// A crashed attempt's claim can be taken once its lease has ended.
	third, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, at.Add(time.Second+lease), lease)
	if err != nil {
		t.Fatalf("claim after the lease ended: %v", err)
	}
	if third.Attempts != 3 {
		t.Errorf("third claim attempts = %d, want 3", third.Attempts)
	}
	third.State, third.MessageID, third.UpdatedAt = rekey.DeliverySent, "ses-123", at.Add(time.Minute)
	if err := s.SaveDelivery(ctx, third); err != nil {
		t.Fatalf("SaveDelivery(SENT): %v", err)
	}
	// Once sent, never again, however late.
	got, err := s.ClaimDelivery(ctx, key, rekey.JobResetLink, at.Add(24*time.Hour), lease)
	if !errors.Is(err, rekey.ErrDeliveryFinished) || got.MessageID != "ses-123" {
		t.Errorf("claim after SENT = %+v, %v; want ErrDeliveryFinished with the SES message id", got, err)
	}
	stored, err := s.GetDelivery(ctx, key)
	if err != nil || stored.State != rekey.DeliverySent || stored.Kind != rekey.JobResetLink || !stored.LeaseUntil.IsZero() {
		t.Errorf("GetDelivery = %+v, %v; want SENT, kind reset_link, no lease", stored, err)
	}
}

func TestDeliverySkipped(t *testing.T) {
	ctx := context.Background()
	s, _ := newResetStore(t)
	d, err := s.ClaimDelivery(ctx, "forgot#f1", rekey.JobForgot, resetT0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	d.State, d.Reason = rekey.DeliverySkipped, "unknown account"
	if err := s.SaveDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimDelivery(ctx, "forgot#f1", rekey.JobForgot, resetT0.Add(time.Hour), time.Minute); !errors.Is(err, rekey.ErrDeliveryFinished) {
		t.Errorf("claim after SKIPPED = %v, want ErrDeliveryFinished", err)
	}
	d.State = rekey.DeliverySending
	if err := s.SaveDelivery(ctx, d); err == nil {
		t.Error("SaveDelivery(SENDING) succeeded, want an error: only outcomes are saved")
	}
}

// TestConcurrentDeliveryClaims: of many simultaneous claims of one job,
// exactly one wins.
func TestConcurrentDeliveryClaims(t *testing.T) {
	ctx := context.Background()
	s, _ := newResetStore(t)
	var (
		wg           sync.WaitGroup
		mu           sync.Mutex
		wins, busies int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ClaimDelivery(ctx, "password_changed#u1#v2", rekey.JobPasswordChanged, resetT0, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, rekey.ErrDeliveryBusy):
				busies++
			default:
				t.Errorf("ClaimDelivery: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || busies != 7 {
		t.Errorf("8 concurrent claims: %d won, %d busy; want 1 and 7", wins, busies)
	}
}
