package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/rekey"
)

// benchPacing sends an email-link task of users through the email path's
// workers to a stand-in for SES that takes bulk.SESSendTime to answer and
// throttles above rate sends per second, and reports how many users failed
// (none may), how many sends were throttled, and how long the sending took
// against the ideal users/rate. Each worker hands SES one email at a time,
// so there are as many workers as the rate needs (ceil(rate /
// bulk.MaxWorkerRate)), at least the template's MaximumConcurrency; first
// it prints what template.yaml's email path reaches.
func benchPacing(ctx context.Context, users int, rate float64) error {
	path, err := readEmailPath()
	if err != nil {
		return err
	}
	bench("email_worker_maximum_concurrency", path.maxConcurrency, "instances")
	bench("email_template_ses_rate", path.sesRate, "emails/s")
	bench("email_worker_rate", path.sesRate/float64(path.workerConcurrency), "emails/s")
	bench("email_worker_rate_ceiling", bulk.MaxWorkerRate, "emails/s")
	bench("email_path_rate_ceiling", path.rateCeiling(), "emails/s")
	note("email path: %d workers at %.1f emails/s each of the template's %.0f/s; one email at a time (SES answers in up to %v), each is sized for %.0f/s: %.0f/s together",
		path.maxConcurrency, path.sesRate/float64(path.workerConcurrency), path.sesRate, bulk.SESSendTime, bulk.MaxWorkerRate, path.rateCeiling())
	workers := max(path.maxConcurrency, int(math.Ceil(rate/bulk.MaxWorkerRate)))
	store := newSynthStore(users, synthTask(rekey.Delivery{Mode: rekey.DeliverEmailLink}))
	work, plans := &memQueue{}, &memQueue{}
	cfg := bulk.Config{PublicBaseURL: "https://console.example.org", SendRate: rate, WorkerConcurrency: workers}
	bench("ses_pacing_workers", workers, "instances")
	planner, err := bulk.NewPlanner(cfg, bulk.PlannerDeps{Store: store, Work: work, Plans: plans})
	if err != nil {
		return err
	}
	if err := planner.Plan(ctx, "task1"); err != nil {
		return err
	}
	ses := &throttlingSES{rate: rate, tokens: 1, latency: bulk.SESSendTime}
	ws := make([]*bulk.Worker, workers)
	for i := range ws {
		if ws[i], err = bulk.NewWorker(cfg, bulk.WorkerDeps{Store: store, Work: work, Mailer: ses, Hasher: fastHasher}); err != nil {
			return err
		}
	}
	if err := runWorkers(ctx, work, ws); err != nil {
		return err
	}
	task := store.task.Task
	if task.Processed != users {
		return fmt.Errorf("pacing: task %+v, want %d processed", task, users)
	}
	took := ses.last.Sub(ses.first).Seconds()
	ideal := float64(users-1) / rate
	bench("ses_pacing_users_failed", task.Failed, "users")
	bench("ses_pacing_throttled_sends", ses.throttled, "sends")
	bench("ses_pacing_seconds", took, "s")
	bench("ses_pacing_ideal_seconds", ideal, "s")
	bench("ses_pacing_over_ideal", 100*(took-ideal)/ideal, "percent")
	note("pacing: %d users at %.0f/s over %d workers: %d emailed, %d throttled sends", users, rate, workers, task.Emailed, ses.throttled)
	return nil
}

// throttlingSES stands in for SES with a maximum send rate: a token bucket
// of rate tokens a second holding at most one second's worth; a send
// without a token is throttled, as SES answers TooManyRequests. Every
// answer takes latency.
type throttlingSES struct {
	mu          sync.Mutex
	rate        float64
	tokens      float64
	refilled    time.Time
	first, last time.Time
	sent        int
	throttled   int
	latency     time.Duration
}

func (s *throttlingSES) Send(context.Context, mail.Message) (string, error) {
	defer time.Sleep(s.latency)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if !s.refilled.IsZero() {
		s.tokens = min(s.rate, s.tokens+now.Sub(s.refilled).Seconds()*s.rate)
	}
	s.refilled = now
	if s.tokens < 1 {
		s.throttled++
		return "", &mail.SendError{Reason: "throttled", Temporary: true, Err: errors.New("Maximum sending rate exceeded")}
	}
	s.tokens--
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	s.sent++
	return fmt.Sprintf("ses-%d", s.sent), nil
}
