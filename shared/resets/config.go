package resets

import (
	"fmt"
	"strconv"
	"time"
)

// Environment variables that ConfigFromEnv reads. The API function that
// starts resets and the mail worker that issues their links both read them,
// so they agree on expiries.
const (
	EnvLinkExpiry       = "REKEY_RESET_LINK_EXPIRY"        // Go duration, e.g. "15m"; at most 24h
	EnvForgotExpiry     = "REKEY_FORGOT_LINK_EXPIRY"       // Go duration, e.g. "30m"; at most 1h
	EnvForgotPerAccount = "REKEY_FORGOT_LIMIT_PER_ACCOUNT" // requests per window, e.g. "3"
	EnvForgotPerClient  = "REKEY_FORGOT_LIMIT_PER_CLIENT"  // requests per window, e.g. "20"
)

// ConfigFromEnv reads the Config from the environment through lookup
// (os.LookupEnv in a main). Unset variables keep DefaultConfig's values;
// malformed or out-of-range ones are an error.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	for _, d := range []struct {
		name string
		into *time.Duration
	}{
		{EnvLinkExpiry, &cfg.LinkExpiry},
		{EnvForgotExpiry, &cfg.ForgotExpiry},
	} {
		if v, ok := lookup(d.name); ok && v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil || parsed <= 0 {
				return Config{}, fmt.Errorf("resets: %s=%q is not a positive duration", d.name, v)
			}
			*d.into = parsed
		}
	}
	for _, n := range []struct {
		name string
		into *int
	}{
		{EnvForgotPerAccount, &cfg.ForgotPerAccount},
		{EnvForgotPerClient, &cfg.ForgotPerClient},
	} {
		if v, ok := lookup(n.name); ok && v != "" {
			parsed, err := strconv.Atoi(v)
			if err != nil || parsed <= 0 {
				return Config{}, fmt.Errorf("resets: %s=%q is not a positive number", n.name, v)
			}
			*n.into = parsed
		}
	}
	return cfg.withDefaults()
}
