package moto

import (
	"fmt"
	"os"
)

// UseEndpoint points the AWS SDK's default configuration, through this
// process's environment, at the emulator at endpoint: region us-east-1 and
// dummy credentials, so that nothing can reach real AWS. A session token or
// profile from the developer's shell is removed: it must not mix with the
// dummy credentials. The integration tests and the benchmarks set up their
// AWS this way.
func UseEndpoint(endpoint string) error {
	for name, value := range map[string]string{
		"AWS_ENDPOINT_URL":          endpoint,
		"AWS_REGION":                "us-east-1",
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		if err := os.Setenv(name, value); err != nil {
			return fmt.Errorf("moto: %w", err)
		}
	}
	for _, name := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
		if err := os.Unsetenv(name); err != nil {
			return fmt.Errorf("moto: %w", err)
		}
	}
	return nil
}
