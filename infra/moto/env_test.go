package moto

import (
	"os"
	"testing"
)

// TestUseEndpoint: the SDK's environment names the emulator and dummy
// credentials, and the shell's session token and profiles are gone.
func TestUseEndpoint(t *testing.T) {
	for _, name := range []string{"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"} {
		t.Setenv(name, "from the shell")
	}
	for _, name := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
		t.Setenv(name, "from the shell")
	}
	if err := UseEndpoint("http://127.0.0.1:5000"); err != nil {
		t.Fatalf("UseEndpoint() error: %v", err)
	}
	for name, want := range map[string]string{
		"AWS_ENDPOINT_URL":          "http://127.0.0.1:5000",
		"AWS_REGION":                "us-east-1",
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		if got := os.Getenv(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
		if got, set := os.LookupEnv(name); set {
			t.Errorf("%s = %q, want it unset", name, got)
		}
	}
}
