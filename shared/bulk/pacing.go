package bulk

import (
	"context"
	"fmt"
	"time"

	"github.com/rekey/rekey/shared/mail"
)

// AccountAPI reads the email account's sending quota; *ses.Account
// satisfies it. moto does not implement SES's GetAccount: the worker then
// falls back to the configured rate and daily quota.
type AccountAPI interface {
	Quota(ctx context.Context) (mail.Quota, error)
}

// sendQuota grants sends against a daily allowance. When it grants fewer
// than asked, retryAt says when to ask again and why says what the task
// is waiting for.
type sendQuota interface {
	acquire(ctx context.Context, want int) (granted int, retryAt time.Time, why string, err error)
}

// noQuota grants everything: there is no daily limit to respect.
type noQuota struct{}

func (noQuota) acquire(_ context.Context, want int) (int, time.Time, string, error) {
	return want, time.Time{}, "", nil
}

// dailyQuota counts sends per UTC day in the store against a configured
// limit, for when SES cannot say how much of its quota is left.
type dailyQuota struct {
	store chunkStore
	limit int
	now   func() time.Time
}

func (q dailyQuota) acquire(ctx context.Context, want int) (int, time.Time, string, error) {
	now := q.now().UTC()
	granted, err := q.store.AcquireDailySends(ctx, now.Format(time.DateOnly), want, q.limit)
	if err != nil {
		return 0, time.Time{}, "", fmt.Errorf("count daily sends: %w", err)
	}
	midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	return granted, midnight, "the daily email quota is used up", nil
}

// accountQuota asks SES how much of the account's rolling 24-hour quota is
// left, on every acquire (one SES GetAccount per chunk).
type accountQuota struct {
	api AccountAPI
	now func() time.Time
}

// accountRecheck is how long a worker waits before asking SES again once
// its quota is used up or sending is paused.
const accountRecheck = 15 * time.Minute

func (q accountQuota) acquire(ctx context.Context, want int) (int, time.Time, string, error) {
	quota, err := q.api.Quota(ctx)
	if err != nil {
		return 0, time.Time{}, "", fmt.Errorf("read SES quota: %w", err)
	}
	retry := q.now().Add(accountRecheck)
	if !quota.SendingEnabled {
		return 0, retry, "email sending is paused for the account", nil
	}
	if !quota.Known || quota.Max24HourSend < 0 {
		return want, time.Time{}, "", nil // -1: no daily limit
	}
	left := int(quota.Max24HourSend - quota.SentLast24Hours)
	return min(want, max(left, 0)), retry, "the daily email quota is used up", nil
}

// sendingLimits are the rate and quota a worker sends under.
type sendingLimits struct {
	rate  float64 // emails per second, all workers together
	quota sendQuota
}

// readLimits asks SES for the account's sending limits; when it cannot
// (moto, or no permission), the configured ones apply.
func readLimits(ctx context.Context, api AccountAPI, cfg Config, store chunkStore, now func() time.Time) (sendingLimits, error) {
	fallback := sendingLimits{rate: cfg.SendRate, quota: noQuota{}}
	if cfg.DailyQuota > 0 {
		fallback.quota = dailyQuota{store: store, limit: cfg.DailyQuota, now: now}
	}
	if api == nil {
		return fallback, nil
	}
	quota, err := api.Quota(ctx)
	if err != nil || !quota.Known {
		return fallback, err
	}
	limits := sendingLimits{rate: quota.MaxSendRate, quota: accountQuota{api: api, now: now}}
	if limits.rate <= 0 {
		limits.rate = cfg.SendRate
	}
	return limits, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
