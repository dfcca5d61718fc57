package bulk

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/mail"
)

// fakeAccount answers Quota with quota, or err.
type fakeAccount struct {
	quota mail.Quota
	err   error
}

func (f fakeAccount) Quota(context.Context) (mail.Quota, error) { return f.quota, f.err }

// TestSendingLimitsFollowTheAccount: the worker paces to the account's
// rate and grants what is left of its 24-hour quota; when the account
// cannot say, the configured rate applies with no daily limit.
func TestSendingLimitsFollowTheAccount(t *testing.T) {
	now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	recheck := now.Add(accountRecheck)
	for _, test := range []struct {
		name        string
		api         AccountAPI
		wantRate    float64
		wantErr     bool
		want        int // granted of 100
		wantRetryAt time.Time
	}{
		{name: "no account", api: nil, wantRate: 5, want: 100},
		{name: "account unavailable", api: fakeAccount{err: errors.New("not implemented")}, wantRate: 5, wantErr: true, want: 100},
		{name: "no figures", api: fakeAccount{quota: mail.Quota{SendingEnabled: true}}, wantRate: 5, want: 100},
		{name: "quota left", api: fakeAccount{quota: mail.Quota{SendingEnabled: true, Known: true, Max24HourSend: 1000, SentLast24Hours: 960, MaxSendRate: 14}},
			wantRate: 14, want: 40, wantRetryAt: recheck},
		{name: "quota used up", api: fakeAccount{quota: mail.Quota{SendingEnabled: true, Known: true, Max24HourSend: 1000, SentLast24Hours: 1000, MaxSendRate: 14}},
			wantRate: 14, want: 0, wantRetryAt: recheck},
		{name: "no daily limit", api: fakeAccount{quota: mail.Quota{SendingEnabled: true, Known: true, Max24HourSend: -1, MaxSendRate: 40}},
			wantRate: 40, want: 100},
		{name: "paused", api: fakeAccount{quota: mail.Quota{Known: true, Max24HourSend: 1000, MaxSendRate: 14}},
			wantRate: 14, want: 0, wantRetryAt: recheck},
		{name: "no rate", api: fakeAccount{quota: mail.Quota{SendingEnabled: true, Known: true, Max24HourSend: -1}},
			wantRate: 5, want: 100},
	} {
		t.Run(test.name, func(t *testing.T) {
			limits, err := readLimits(context.Background(), test.api, Config{SendRate: 5}, nil, clock)
			if (err != nil) != test.wantErr {
				t.Fatalf("readLimits error = %v, want error %v", err, test.wantErr)
			}
			if limits.rate != test.wantRate {
				t.Errorf("rate = %v, want %v", limits.rate, test.wantRate)
			}
			granted, retryAt, _, err := limits.quota.acquire(context.Background(), 100)
			if err != nil || granted != test.want || (granted < 100 && !retryAt.Equal(test.wantRetryAt)) {
				t.Errorf("acquire(100) = %d, retry at %v, %v; want %d, retry at %v", granted, retryAt, err, test.want, test.wantRetryAt)
			}
		})
	}
}
