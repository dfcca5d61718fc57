package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/rekey/rekey/shared/api"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Table: "t", PublicBaseURL: "https://rekey.example.org", SenderEmail: "no-reply@example.org", MailQueueURL: "http://127.0.0.1:1/q",
		BulkPlanQueueURL: "http://127.0.0.1:1/plan", BulkWorkQueueURL: "http://127.0.0.1:1/work", TaskKeyID: "key",
		ImportQueueURL: "http://127.0.0.1:1/import", ImportBucket: "imports"}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v, want nil", good, err)
	}
	for _, test := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no table", func(c *Config) { c.Table = "" }, "REKEY_TABLE"},
		{"no base URL", func(c *Config) { c.PublicBaseURL = "" }, "REKEY_PUBLIC_BASE_URL"},
		{"base URL with a path", func(c *Config) { c.PublicBaseURL = "https://x.example/app" }, "REKEY_PUBLIC_BASE_URL"},
		{"base URL not http", func(c *Config) { c.PublicBaseURL = "ftp://x.example" }, "REKEY_PUBLIC_BASE_URL"},
		{"bad sender", func(c *Config) { c.SenderEmail = "nobody" }, "REKEY_SENDER_EMAIL"},
		{"no mail queue", func(c *Config) { c.MailQueueURL = "" }, "REKEY_MAIL_QUEUE_URL"},
		{"no plan queue", func(c *Config) { c.BulkPlanQueueURL = "" }, "REKEY_BULK_PLAN_QUEUE_URL"},
		{"no work queue", func(c *Config) { c.BulkWorkQueueURL = "" }, "REKEY_BULK_WORK_QUEUE_URL"},
		{"no task key", func(c *Config) { c.TaskKeyID = "" }, "REKEY_TASK_KEY_ID"},
		{"no import queue", func(c *Config) { c.ImportQueueURL = "" }, "REKEY_IMPORT_QUEUE_URL"},
		{"no import bucket", func(c *Config) { c.ImportBucket = "" }, "REKEY_IMPORT_BUCKET"},
	} {
		t.Run(test.name, func(t *testing.T) {
			c := good
			test.change(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), test.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, test.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("REKEY_TABLE", "rekey")
	t.Setenv("REKEY_PUBLIC_BASE_URL", "https://rekey.example.org/")
	t.Setenv("REKEY_SENDER_EMAIL", "no-reply@example.org")
	t.Setenv("REKEY_MAIL_QUEUE_URL", "http://127.0.0.1:1/q")
	t.Setenv("REKEY_BULK_PLAN_QUEUE_URL", "http://127.0.0.1:1/plan")
	t.Setenv("REKEY_BULK_WORK_QUEUE_URL", "http://127.0.0.1:1/work")
	t.Setenv("REKEY_TASK_KEY_ID", "key")
	t.Setenv("REKEY_IMPORT_QUEUE_URL", "http://127.0.0.1:1/import")
	t.Setenv("REKEY_IMPORT_BUCKET", "imports")
	t.Setenv("REKEY_SES_CONFIGURATION_SET", "rekey-mail")
	cfg, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PublicBaseURL != "https://rekey.example.org" {
		t.Errorf("PublicBaseURL = %q, want the trailing slash trimmed", cfg.PublicBaseURL)
	}
	if cfg.SESConfigurationSet != "rekey-mail" {
		t.Errorf("SESConfigurationSet = %q, want rekey-mail", cfg.SESConfigurationSet)
	}
}

// TestNewBuildsOnlyWhatFunctionsNeed: a Lambda builds only its own parts
// (the console alone costs about 100 ms of cold start), and everything
// when no function is named.
func TestNewBuildsOnlyWhatFunctionsNeed(t *testing.T) {
	cfg := Config{Table: "t", PublicBaseURL: "https://rekey.example.org", SenderEmail: "no-reply@example.org", MailQueueURL: "http://127.0.0.1:1/q",
		BulkPlanQueueURL: "http://127.0.0.1:1/plan", BulkWorkQueueURL: "http://127.0.0.1:1/work", TaskKeyID: "key",
		ImportQueueURL: "http://127.0.0.1:1/import", ImportBucket: "imports"}
	built := func(a *App) []string {
		var out []string
		for name, ok := range map[string]bool{
			"API": a.API != nil, "Auth": a.Auth != nil, "Resets": a.Resets != nil, "Bulk": a.Bulk != nil,
			"MailWorker": a.MailWorker != nil, "BulkPlanner": a.BulkPlanner != nil, "BulkWorker": a.BulkWorker != nil,
			"BulkSweeper": a.BulkSweeper != nil, "Dispatcher": a.Dispatcher != nil,
		} {
			if ok {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, test := range []struct {
		functions []string
		want      []string
		console   bool // GET / serves the console's HTML
	}{
		{nil, []string{"API", "Auth", "Bulk", "BulkPlanner", "BulkSweeper", "BulkWorker", "Dispatcher", "MailWorker", "Resets"}, true},
		{[]string{api.FunctionUsers}, []string{"API", "Auth", "Resets"}, false},
		{[]string{api.FunctionConsole}, []string{"API", "Auth", "Resets"}, true},
		{[]string{api.FunctionTasks}, []string{"API", "Auth", "Bulk", "Resets"}, false},
		{[]string{FunctionMailWorker}, []string{"MailWorker", "Resets"}, false},
		{[]string{FunctionBulkPlanner}, []string{"BulkPlanner"}, false},
		{[]string{FunctionBulkWorker}, []string{"BulkWorker"}, false},
		{[]string{FunctionBulkSweeper}, []string{"BulkSweeper"}, false},
		{[]string{FunctionScheduleDispatcher}, []string{"Bulk", "Dispatcher"}, false},
	} {
		t.Run(strings.Join(test.functions, ","), func(t *testing.T) {
			a, err := New(context.Background(), cfg, aws.Config{Region: "us-east-1"}, Options{Functions: test.functions})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(test.want, built(a)); diff != "" {
				t.Errorf("New(Functions: %v) built (-want +got):\n%s", test.functions, diff)
			}
			if a.API == nil {
				return
			}
			rec := httptest.NewRecorder()
			a.API.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if html := strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"); html != test.console {
				t.Errorf("GET / answered %d %s; console served = %v, want %v", rec.Code, rec.Header().Get("Content-Type"), html, test.console)
			}
		})
	}
}

func TestNewRejectsUnknownFunction(t *testing.T) {
	cfg := Config{Table: "t", PublicBaseURL: "https://rekey.example.org", SenderEmail: "no-reply@example.org", MailQueueURL: "http://127.0.0.1:1/q",
		BulkPlanQueueURL: "http://127.0.0.1:1/plan", BulkWorkQueueURL: "http://127.0.0.1:1/work", TaskKeyID: "key",
		ImportQueueURL: "http://127.0.0.1:1/import", ImportBucket: "imports"}
	if _, err := New(context.Background(), cfg, aws.Config{}, Options{Functions: []string{"api-user"}}); err == nil || !strings.Contains(err.Error(), `"api-user"`) {
		t.Errorf("New(Functions: api-user) = %v, want an error naming the unknown function", err)
	}
}
