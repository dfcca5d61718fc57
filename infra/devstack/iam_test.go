package devstack

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rekey/rekey/infra/iamcheck"
	"github.com/rekey/rekey/infra/stack"
)

// iamCalls records, per function, the AWS calls every stack of these tests
// makes while serving that function's work (requests by route, messages
// by queue, the dispatcher's and sweeper's ticks, SES events); TestMain
// holds them to the functions' policies in template.yaml once every test
// has run. moto enforces no IAM: this is how a path that calls what its
// function may not is found before AWS refuses it.
var iamCalls = iamcheck.NewRecorder(Function)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := checkIAM(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// recordIAM is the Options.AWSConfig of these tests' stacks.
func recordIAM(opt Options) Options {
	opt.AWSConfig = iamCalls.Attach
	return opt
}

// nameResources tells iamCalls which of s's resources are which in the
// template, so that calls are checked on their resources too.
func nameResources(s *Stack) {
	iamCalls.Name(s.Resources.Table, "Table")
	iamCalls.Name(s.Resources.Bucket, "ImportBucket")
	iamCalls.Name(s.Resources.TaskKeyID, "TaskKey")
	for id, q := range s.Resources.Queues {
		iamCalls.Name(q.URL, id)
	}
}

// checkIAM checks every function's recorded calls against its policy and
// says which template functions the tests exercised (when verbose) and
// which calls some policy lacks (as the error).
func checkIAM(out *os.File) error {
	template, err := stack.FindTemplate()
	if err != nil {
		return err
	}
	fns, err := iamcheck.ReadTemplate(template)
	if err != nil {
		return err
	}
	var missing []string
	exercised := map[string]bool{}
	for _, name := range iamCalls.Functions() {
		calls := iamCalls.Take(name)
		if testing.Verbose() {
			fmt.Fprintf(out, "iamcheck: %s called %v\n", name, calls)
		}
		missing = append(missing, iamcheck.Missing(fns, name, calls)...)
		for _, f := range iamcheck.Resolve(fns, name) {
			exercised[f.LogicalID] = true
		}
	}
	if testing.Verbose() {
		var not []string
		for id := range fns {
			if !exercised[id] {
				not = append(not, id)
			}
		}
		slices.Sort(not)
		fmt.Fprintf(out, "iamcheck: %d functions' AWS calls held to their policies; no AWS call seen here from %s\n",
			len(exercised), strings.Join(not, ", "))
	}
	if len(missing) > 0 {
		return fmt.Errorf("FAIL: IAM policies in template.yaml lack what the functions call (moto does not enforce them; AWS will):\n  %s",
			strings.Join(missing, "\n  "))
	}
	return nil
}

// TestQueueFunctionsConsumeTheirQueues: the function the local runner
// names for each queue's messages is the one whose SQS event consumes it.
func TestQueueFunctionsConsumeTheirQueues(t *testing.T) {
	template, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	fns, err := iamcheck.ReadTemplate(template)
	if err != nil {
		t.Fatal(err)
	}
	for queue, fn := range queueFunctions {
		if !slices.Contains(fns[fn].Queues, queue) {
			t.Errorf("queueFunctions[%s] = %s, whose SQS events consume %v", queue, fn, fns[fn].Queues)
		}
	}
	for _, fn := range []string{functionDispatcher, functionSweeper, functionMailEvents} {
		if _, ok := fns[fn]; !ok {
			t.Errorf("template.yaml has no function %s", fn)
		}
	}
}

// TestRequestsNameTheirFunction: each request is served under the name of
// the function the route table gives its route; one no route takes names
// none.
func TestRequestsNameTheirFunction(t *testing.T) {
	var got string
	h := byFunction(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = Function(r.Context()) }))
	for _, test := range []struct{ method, path, want string }{
		{"GET", "/api/tasks", "api-tasks"},
		{"GET", "/api/tasks/t1/results", "api-tasks"},
		{"HEAD", "/api/tasks/t1", "api-tasks"},
		{"POST", "/api/bulk-resets", "api-bulk"},
		{"POST", "/api/users/u1/password-reset", "api-resets"},
		{"GET", "/api/users/u1", "api-users"},
		{"GET", "/", "console"},
		{"GET", "/tasks/t1", "console"},
		{"DELETE", "/api/users/u1", ""}, // 405: API Gateway invokes nothing
		{"POST", "/nowhere", ""},
	} {
		got = "unset"
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(test.method, test.path, nil))
		if got != test.want {
			t.Errorf("%s %s served as %q, want %q", test.method, test.path, got, test.want)
		}
	}
}
