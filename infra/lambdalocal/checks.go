package lambdalocal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// invocations is what one run's invocations pass on to the next: the
// session token api-auth's sample got.
type invocations struct {
	ctx   context.Context
	env   *environment
	token string
}

// check is how one function is driven: the event to send (its sample,
// adjusted) and what its answer must be.
type check struct {
	event  func(run *invocations, samplePath string) ([]byte, error)
	answer func(run *invocations, answer []byte) error
}

// checks holds one entry per function folder; Run fails a function that
// has none, so a new function cannot go unproven.
var checks = map[string]check{
	"api-auth": {sample, httpAnswer(http.StatusOK, func(run *invocations, body map[string]any) error {
		token, _ := body["token"].(string)
		if token == "" || body["csrfToken"] == "" {
			return fmt.Errorf("login answered no token and csrfToken: keys %v", keys(body))
		}
		run.token = token
		return nil
	})},
	"api-users": {signedIn, httpAnswer(http.StatusOK, func(_ *invocations, body map[string]any) error {
		if items, _ := body["items"].([]any); len(items) != 3 {
			return fmt.Errorf("listed %d students of demo-school-1, want 3", len(items))
		}
		return nil
	})},
	"api-schedules": {signedIn, httpAnswer(http.StatusCreated, func(_ *invocations, body map[string]any) error {
		if body["id"] == "" || body["nextRunAt"] == nil {
			return fmt.Errorf("schedule has no id or next run: keys %v", keys(body))
		}
		return nil
	})},
	"api-bulk": {signedIn, httpAnswer(http.StatusAccepted, func(_ *invocations, body map[string]any) error {
		if id, _ := body["taskId"].(string); id == "" {
			return fmt.Errorf("answer has no taskId: keys %v", keys(body))
		}
		return nil
	})},
	"api-tasks": {signedIn, httpAnswer(http.StatusOK, func(_ *invocations, body map[string]any) error {
		// api-bulk's task is listed.
		if items, _ := body["items"].([]any); len(items) != 1 {
			return fmt.Errorf("listed %d tasks, want api-bulk's one", len(items))
		}
		return nil
	})},
	"api-resets": {sample, httpAnswer(http.StatusAccepted, func(_ *invocations, body map[string]any) error {
		if m, _ := body["message"].(string); m == "" {
			return fmt.Errorf("forgot-password answer has no message: keys %v", keys(body))
		}
		return nil
	})},
	"console": {sample, func(_ *invocations, answer []byte) error {
		resp, err := decodeHTTP(answer, http.StatusOK)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(resp.Headers["Content-Type"], "text/html") || resp.Headers["Referrer-Policy"] != "no-referrer" {
			return fmt.Errorf("reset page headers = %v, want HTML with Referrer-Policy no-referrer", resp.Headers)
		}
		return nil
	}},
	// The sample is a dry run; the check imports for real, so that
	// import-worker has the chunk it queued.
	"api-imports": {signedInImport, httpAnswer(http.StatusAccepted, func(_ *invocations, body map[string]any) error {
		if id, _ := body["taskId"].(string); id == "" {
			return fmt.Errorf("answer has no taskId: keys %v", keys(body))
		}
		return nil
	})},
	"import-worker": {fromQueue("ImportQueue"), noBatchFailures},
	"bulk-planner":  {fromQueue("BulkPlanQueue"), noBatchFailures},
	"bulk-worker":   {fromQueue("BulkWorkQueue"), noBatchFailures},
	"mail-worker":   {sample, noBatchFailures},
	// The sample's chunk is no task's: the dead letter is logged and
	// dropped, not retried.
	"bulk-dead-letters": {sample, noBatchFailures},
	// The sample's message id is no task's: the event is logged and
	// dropped, not retried (an error answer would send it to the DLQ).
	"mail-events": {sample, nullAnswer},
	// The scheduled functions return nothing: the answer is null, not an
	// error object.
	"schedule-dispatcher": {sample, nullAnswer},
	"bulk-sweeper":        {sample, nullAnswer},
}

// sample sends the function's sample event as it is.
func sample(_ *invocations, path string) ([]byte, error) { return os.ReadFile(path) }

// signedIn sends the sample with a live session token in place of its
// placeholder bearer token.
func signedIn(run *invocations, path string) ([]byte, error) {
	if run.token == "" {
		return nil, fmt.Errorf("no session token: api-auth's sign-in did not succeed")
	}
	ev, err := readObject(path)
	if err != nil {
		return nil, err
	}
	headers, _ := ev["headers"].(map[string]any)
	if auth, _ := headers["authorization"].(string); !strings.HasPrefix(auth, "Bearer ") {
		return nil, fmt.Errorf("%s has no bearer token to replace", path)
	}
	headers["authorization"] = "Bearer " + run.token
	return json.Marshal(ev)
}

// signedInImport sends api-imports' sample signed in and without its
// dryRun, so that the import starts.
func signedInImport(run *invocations, path string) ([]byte, error) {
	raw, err := signedIn(run, path)
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	ev["rawQueryString"] = ""
	delete(ev, "queryStringParameters")
	return json.Marshal(ev)
}

// fromQueue sends the sample's SQS envelope around the real message on the
// queue, as the event source would deliver it.
func fromQueue(queue string) func(run *invocations, path string) ([]byte, error) {
	return func(run *invocations, path string) ([]byte, error) {
		ev, err := readObject(path)
		if err != nil {
			return nil, err
		}
		records, _ := ev["Records"].([]any)
		if len(records) == 0 {
			return nil, fmt.Errorf("%s has no Records", path)
		}
		body, err := run.env.receive(run.ctx, queue)
		if err != nil {
			return nil, err
		}
		records[0].(map[string]any)["body"] = body
		ev["Records"] = records[:1]
		return json.Marshal(ev)
	}
}

func readObject(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ev, nil
}

// httpResponse is the API Gateway (HTTP API, payload 2.0) answer.
type httpResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func decodeHTTP(answer []byte, status int) (httpResponse, error) {
	var resp httpResponse
	if err := json.Unmarshal(answer, &resp); err != nil || resp.StatusCode == 0 {
		return resp, fmt.Errorf("answer is not an HTTP API response: %.300s", answer)
	}
	if resp.StatusCode != status {
		return resp, fmt.Errorf("status %d, want %d: %.300s", resp.StatusCode, status, resp.Body)
	}
	return resp, nil
}

// httpAnswer checks an HTTP function's status and its JSON body.
func httpAnswer(status int, body func(run *invocations, body map[string]any) error) func(*invocations, []byte) error {
	return func(run *invocations, answer []byte) error {
		resp, err := decodeHTTP(answer, status)
		if err != nil {
			return err
		}
		obj, err := jsonObject([]byte(resp.Body))
		if err != nil {
			return err
		}
		return body(run, obj)
	}
}

// noBatchFailures checks an SQS function's partial-batch answer.
func noBatchFailures(_ *invocations, answer []byte) error {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(answer, &resp); err != nil || resp["batchItemFailures"] == nil {
		return fmt.Errorf("answer is not an SQS batch response: %.300s", answer)
	}
	var failures []any
	if err := json.Unmarshal(resp["batchItemFailures"], &failures); err != nil || len(failures) != 0 {
		return fmt.Errorf("batch item failures: %s", resp["batchItemFailures"])
	}
	return nil
}

func nullAnswer(_ *invocations, answer []byte) error {
	if s := strings.TrimSpace(string(answer)); s != "null" {
		return fmt.Errorf("answer %.300s, want null", s)
	}
	return nil
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
