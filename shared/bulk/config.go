package bulk

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/resets"
)

// Environment variables that ConfigFromEnv reads, besides the reset link
// expiry of package resets (REKEY_RESET_LINK_EXPIRY).
const (
	EnvPublicBaseURL = "REKEY_PUBLIC_BASE_URL"
	// EnvSendRate is the SES sending rate in emails per second shared by
	// all workers, used when SES GetAccount cannot be read (moto).
	EnvSendRate = "REKEY_SES_RATE"
	// EnvDailyQuota is the SES 24-hour sending quota, used when GetAccount
	// cannot be read; 0 or unset means no limit.
	EnvDailyQuota = "REKEY_SES_DAILY_QUOTA"
	// EnvWorkerConcurrency must equal the work queue's event source
	// MaximumConcurrency: each worker sends at rate / concurrency.
	EnvWorkerConcurrency = "REKEY_BULK_WORKER_CONCURRENCY"
)

// Defaults.
const (
	// DefaultSendRate is the SES sending rate of a new production account.
	DefaultSendRate          = 14.0
	DefaultWorkerConcurrency = 2
	// DefaultLease with the Sweeper's one-minute schedule resumes a chunk
	// whose worker died 30 to 90 seconds after the crash.
	DefaultLease = 30 * time.Second
)

// Config configures the Service, the Planner and the Worker (each uses
// its part).
type Config struct {
	// PublicBaseURL is the console origin users see; links are
	// <PublicBaseURL>/reset-password?token=…, never built from a request.
	PublicBaseURL string
	// LinkExpiry is how long an emailed link works once sent (15 minutes
	// by default, as for single resets).
	LinkExpiry time.Duration
	// SendRate is the SES rate (emails per second) for all workers
	// together, when SES does not say (GetAccount unavailable).
	SendRate float64
	// DailyQuota is the SES 24-hour quota when SES does not say; 0 means
	// none.
	DailyQuota int
	// WorkerConcurrency is how many workers run at once (the work queue's
	// MaximumConcurrency); each paces itself to SendRate / WorkerConcurrency.
	WorkerConcurrency int
	// CheckpointEvery is how many emails a worker sends between records of
	// its progress (50 by default): a crash re-sends at most that many.
	CheckpointEvery int
	// RetryDelays are the pauses before a failed send's retries (2 s and
	// 8 s by default; the last applies to any later retry).
	RetryDelays []time.Duration
	// MaxBackoff caps the pause after SES throttles a send (5 s by
	// default); throttled sends are retried without using an attempt.
	MaxBackoff time.Duration
	// Lease is how long a worker's hold on a chunk lasts unrenewed (30 s
	// by default); the worker renews it every third of that while it works,
	// so it runs out only when the worker died. It bounds how long a
	// crashed chunk's users wait before the Sweeper resumes them.
	Lease time.Duration
	// StopMargin is how long before its deadline a worker stops starting
	// sends, records its progress and queues the rest (20 s by default).
	StopMargin time.Duration
	// CancelWait bounds how long a cancel can go unnoticed (8 s by
	// default): a sending worker hands an email to SES only within
	// CancelWait of a lease renewal that found the task still running
	// (unless a chunk write checked the task meanwhile, it renews 2 s, or
	// CancelWait/2 if less, before that window closes), and the Service
	// answers a cancel of a running task only CancelWait after it was
	// written. So once the cancel has answered, no email of the task
	// leaves but those already being handed to SES. Shorter means more
	// renewals: a worker renews about once per CancelWait less 2 s while
	// it sends.
	CancelWait time.Duration
}

// SESSendTime is the longest SES usually takes to answer a SendEmail
// (20 to 60 ms). A worker hands SES one email at a time (a cancel must
// leave at most one per worker in flight), so a worker is sized for
// MaxWorkerRate: one email every 100 ms, SESSendTime plus room for the
// pacer's slack, rendering and recording. The email path's
// MaximumConcurrency (WorkerConcurrency) must be at least the SES rate /
// MaxWorkerRate, or the workers together fall short of the SES rate; a
// test in infra/bench checks template.yaml against it.
const SESSendTime = 60 * time.Millisecond

// MaxWorkerRate is the most emails a second one worker is asked to send.
const MaxWorkerRate = 10.0

// DefaultCancelWait is Config.CancelWait's default.
const DefaultCancelWait = 8 * time.Second

// ConfigFromEnv reads the Config through lookup (os.LookupEnv in a main).
// Unset variables keep their defaults; malformed ones are an error.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	resetCfg, err := resets.ConfigFromEnv(lookup)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{LinkExpiry: resetCfg.LinkExpiry}
	cfg.PublicBaseURL, _ = lookup(EnvPublicBaseURL)
	if v, ok := lookup(EnvSendRate); ok && v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate <= 0 {
			return Config{}, fmt.Errorf("bulk: %s=%q is not a positive number", EnvSendRate, v)
		}
		cfg.SendRate = rate
	}
	for _, n := range []struct {
		name string
		into *int
	}{
		{EnvDailyQuota, &cfg.DailyQuota},
		{EnvWorkerConcurrency, &cfg.WorkerConcurrency},
	} {
		if v, ok := lookup(n.name); ok && v != "" {
			parsed, err := strconv.Atoi(v)
			if err != nil || parsed < 0 {
				return Config{}, fmt.Errorf("bulk: %s=%q is not a whole number", n.name, v)
			}
			*n.into = parsed
		}
	}
	return cfg.withDefaults(), nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	if c.LinkExpiry <= 0 {
		c.LinkExpiry = resets.DefaultConfig().LinkExpiry
	}
	if c.SendRate <= 0 {
		c.SendRate = DefaultSendRate
	}
	if c.WorkerConcurrency <= 0 {
		c.WorkerConcurrency = DefaultWorkerConcurrency
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 50
	}
	if c.RetryDelays == nil {
		c.RetryDelays = []time.Duration{2 * time.Second, 8 * time.Second}
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.StopMargin <= 0 {
		c.StopMargin = 20 * time.Second
	}
	if c.CancelWait <= 0 {
		c.CancelWait = DefaultCancelWait
	}
	return c
}

// checkBaseURL reports whether the public base URL is an http(s) origin.
func (c Config) checkBaseURL() error {
	u, err := url.Parse(c.PublicBaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("bulk: public base URL %q must be an http(s) origin", c.PublicBaseURL)
	}
	return nil
}
