package moto

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStartResetStop(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if err != nil {
		t.Fatalf("Start() error: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Stop()
		}
	})
	if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("Endpoint() = %q, want http://127.0.0.1:PORT", s.Endpoint())
	}
	if err := s.Reset(ctx); err != nil {
		t.Errorf("Reset() error: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop() error: %v", err)
	}
	stopped = true
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop() error: %v", err)
	}
	client := &http.Client{Timeout: time.Second}
	if resp, err := client.Get(s.Endpoint() + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET %s after Stop() answered %s, want connection refused", s.Endpoint(), resp.Status)
	}
}

func TestStartWithoutMotoServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	s, err := Start(context.Background())
	if err == nil {
		_ = s.Stop()
		t.Fatal("Start() with moto_server missing: error = nil, want one")
	}
	// The advice must work where a system-wide pip install is refused
	// (Debian, Ubuntu): the pinned virtual environment, or another emulator.
	for _, want := range []string{
		"python3 -m venv .venv",
		".venv/bin/pip install -r infra/tools/requirements.txt",
		"apt-get install -y python3-venv",
		"AWS_ENDPOINT_URL",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start() error = %q, want it to contain %q", err, want)
		}
	}
}
