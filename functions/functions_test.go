// Package functions_test checks that the function folders, template.yaml,
// shared/api's route table and the sample events in events/ agree, and that
// every sample event drives its function's handler, in process against moto,
// to a sensible answer.
package functions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.yaml.in/yaml/v3"

	"github.com/rekey/rekey/infra/devstack"
	"github.com/rekey/rekey/infra/goconst"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/infra/seed"
	"github.com/rekey/rekey/infra/stack"
	"github.com/rekey/rekey/shared/api"
	"github.com/rekey/rekey/shared/app"
	"github.com/rekey/rekey/shared/httplambda"
	"github.com/rekey/rekey/shared/imports"
	"github.com/rekey/rekey/shared/mailevents"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// templateFunction is what the template says about one function.
type templateFunction struct {
	logicalID string
	routes    []string // "METHOD /path" of its HttpApi events
}

// templateResources are the template's resources, with what these tests
// read of a function: its code folder and events (infra/iamcheck reads
// its policies).
type templateResources map[string]struct {
	Type       string `yaml:"Type"`
	Properties struct {
		CodeUri string `yaml:"CodeUri"`
		Events  map[string]struct {
			Type       string    `yaml:"Type"`
			Properties yaml.Node `yaml:"Properties"`
		} `yaml:"Events"`
	} `yaml:"Properties"`
}

func readTemplateResources(t *testing.T) templateResources {
	t.Helper()
	raw, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources templateResources `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	return doc.Resources
}

func readTemplateFunctions(t *testing.T) map[string]templateFunction {
	t.Helper()
	doc := struct{ Resources templateResources }{readTemplateResources(t)}
	out := map[string]templateFunction{}
	for id, r := range doc.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		name := strings.TrimPrefix(r.Properties.CodeUri, "functions/")
		f := templateFunction{logicalID: id}
		for _, ev := range r.Properties.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			var p struct {
				Method string `yaml:"Method"`
				Path   string `yaml:"Path"`
			}
			if err := ev.Properties.Decode(&p); err != nil {
				t.Fatalf("%s: decode HttpApi event: %v", id, err)
			}
			// The console's catch-all is "GET /" and "GET /{proxy+}" on API
			// Gateway, one "GET /" entry in the route table.
			if p.Path == "/{proxy+}" {
				continue
			}
			f.routes = append(f.routes, p.Method+" "+p.Path)
		}
		slices.Sort(f.routes)
		out[name] = f
	}
	return out
}

func functionFolders(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestEveryFunctionHasTemplateEntryEventAndRoutes(t *testing.T) {
	tmpl := readTemplateFunctions(t)
	folders := functionFolders(t)
	if len(folders) == 0 {
		t.Fatal("no function folders found")
	}
	routesByFunction := map[string][]string{}
	for _, r := range api.Routes {
		routesByFunction[r.Function] = append(routesByFunction[r.Function], r.Method+" "+r.Pattern)
	}
	for _, name := range folders {
		t.Run(name, func(t *testing.T) {
			f, ok := tmpl[name]
			if !ok {
				t.Fatalf("template.yaml has no AWS::Serverless::Function with CodeUri functions/%s", name)
			}
			if _, err := os.Stat(filepath.Join("..", "events", name+".json")); err != nil {
				t.Errorf("events/%s.json is missing: %v", name, err)
			}
			want := routesByFunction[name]
			slices.Sort(want)
			if !slices.Equal(f.routes, want) {
				t.Errorf("template routes of %s = %v, route table says %v", f.logicalID, f.routes, want)
			}
		})
	}
	for name := range tmpl {
		if !slices.Contains(folders, name) {
			t.Errorf("template.yaml has a function for functions/%s, which does not exist", name)
		}
	}
	for name := range routesByFunction {
		if !slices.Contains(folders, name) {
			t.Errorf("route table names function %q, which has no folder", name)
		}
	}
}

// functionConstants returns shared/api's function-name constants
// (Function*), name to value, read from its source.
func functionConstants(t *testing.T) map[string]string {
	t.Helper()
	consts, err := goconst.Strings(filepath.Join("..", "shared", "api"), "Function")
	if err != nil {
		t.Fatal(err)
	}
	return consts
}

// handlerArgs returns the arguments of every call to app.StartHTTP (the
// main of an HTTP function, which serves the routes it names) in a
// function's main.go: api.Function* selectors by constant
// name, anything else as its source position.
func handlerArgs(t *testing.T, folder string) (named []string, other []string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(folder, "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "StartHTTP" {
			return true
		}
		for _, arg := range call.Args {
			if sel, ok := arg.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "api" && strings.HasPrefix(sel.Sel.Name, "Function") {
					named = append(named, sel.Sel.Name)
					continue
				}
			}
			other = append(other, fset.Position(arg.Pos()).String())
		}
		return true
	})
	return named, other
}

// TestFunctionNamesHaveMains ties the function-name constants, the route
// table and the mains together: every constant names a folder whose main.go
// selects its routes by that constant (never a string literal), and every
// function in the route table is one of the constants.
func TestFunctionNamesHaveMains(t *testing.T) {
	consts := functionConstants(t)
	if len(consts) == 0 {
		t.Fatal("found no Function* constants in shared/api")
	}
	values := map[string]string{} // value -> constant name
	for name, value := range consts {
		if other, dup := values[value]; dup {
			t.Errorf("api.%s and api.%s both name %q", name, other, value)
		}
		values[value] = name
		if _, err := os.Stat(filepath.Join(value, "main.go")); err != nil {
			t.Errorf("api.%s = %q has no main: %v", name, value, err)
		}
	}
	for _, r := range api.Routes {
		if _, ok := values[r.Function]; !ok {
			t.Errorf("route %s %s: function %q is not an api.Function* constant", r.Method, r.Pattern, r.Function)
		}
	}
	for _, folder := range functionFolders(t) {
		named, other := handlerArgs(t, folder)
		for _, pos := range other {
			t.Errorf("%s: StartHTTP argument is not an api.Function* constant", pos)
		}
		for _, name := range named {
			if consts[name] != folder {
				t.Errorf("functions/%s/main.go serves api.%s (%q), not its own routes", folder, name, consts[name])
			}
		}
		if want, ok := values[folder]; ok && !slices.Contains(named, want) {
			t.Errorf("functions/%s/main.go does not select its routes by api.%s", folder, want)
		}
	}
}

// The sample login event signs in the demo district admin with this password.
const samplePassword = "correct horse battery staple"

// sampleApp is the system against moto, on the resources the local runner
// creates from the template (table, queues, bucket, task key, verified
// sender), with the demo district seeded.
func sampleApp(t *testing.T) *sample {
	t.Helper()
	ctx := context.Background()
	actions := newDynamoActions()
	awsCfg := actions.rec.Attach(mototest.Config(t))
	template, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	res, err := devstack.CreateResources(ctx, awsCfg, template, "functions-"+strings.ToLower(rekey.NewID()[:8]))
	if err != nil {
		t.Fatal(err)
	}
	actions.rec.Name(res.Table, "Table")
	cheap := password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	a, err := app.New(ctx, app.Config{
		Table: res.Table, PublicBaseURL: "https://rekey.example.org", SenderEmail: devstack.Sender, MailQueueURL: res.Queues["MailQueue"].URL,
		BulkPlanQueueURL: res.Queues["BulkPlanQueue"].URL, BulkWorkQueueURL: res.Queues["BulkWorkQueue"].URL,
		TaskKeyID:      res.TaskKeyID,
		ImportQueueURL: res.Queues["ImportQueue"].URL, ImportBucket: res.Bucket,
	}, awsCfg, app.Options{Hasher: cheap})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Demo(ctx, a.Store, cheap, seed.Options{Password: samplePassword, StudentsPerSchool: 3}); err != nil {
		t.Fatal(err)
	}
	actions.take() // the table's creation's and the seeding's
	return &sample{App: a, sqs: sqs.NewFromConfig(awsCfg), queues: res.Queues, actions: actions}
}

// sample is the system the sample events run against, with its queues.
type sample struct {
	*app.App
	sqs    *sqs.Client
	queues map[string]stack.Queue
	// actions are the DynamoDB calls made since they were last taken.
	actions *dynamoActions
}

// receive takes one message off a queue, as the event source would.
func (s *sample) receive(t *testing.T, queue string) string {
	t.Helper()
	out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(s.queues[queue].URL), MaxNumberOfMessages: 1, WaitTimeSeconds: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("%s holds no message", queue)
	}
	return aws.ToString(out.Messages[0].Body)
}

func readEvent(t *testing.T, function string, into any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "events", function+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatalf("events/%s.json: %v", function, err)
	}
}

// signInDemoAdmin returns a live bearer token of the demo district admin.
func signInDemoAdmin(t *testing.T, a *sample) string {
	t.Helper()
	res, err := a.Auth.Login(context.Background(), seed.DistrictAdminUsername, samplePassword, "198.51.100.23", "test")
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

func TestSampleEventsDriveHTTPHandlers(t *testing.T) {
	ctx := context.Background()
	a := sampleApp(t)
	token := signInDemoAdmin(t, a)
	for _, test := range []struct {
		function string
		signedIn bool // replace the sample's placeholder bearer token with a live one
		status   int
		check    func(t *testing.T, resp events.APIGatewayV2HTTPResponse)
	}{
		{"api-auth", false, http.StatusOK, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			body := jsonBody(t, resp)
			if body["token"] == "" || body["csrfToken"] == "" {
				t.Errorf("login body = %v, want token and csrfToken", body)
			}
		}},
		// The sample carries a bearer token no session has: a clean 401.
		{"api-users", false, http.StatusUnauthorized, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			body := jsonBody(t, resp)
			if e, _ := body["error"].(map[string]any); e["code"] != "unauthenticated" {
				t.Errorf("body = %v, want error code unauthenticated", body)
			}
		}},
		{"api-users", true, http.StatusOK, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			body := jsonBody(t, resp)
			if items, _ := body["items"].([]any); len(items) != 3 {
				t.Errorf("listed %d students of school 1, want 3: %v", len(items), body)
			}
		}},
		{"api-schedules", true, http.StatusCreated, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			body := jsonBody(t, resp)
			if body["id"] == "" || body["nextRunAt"] == nil {
				t.Errorf("schedule = %v, want an id and a next run", body)
			}
		}},
		// Opening a reset link shows the page and consumes nothing.
		{"console", false, http.StatusOK, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			if !strings.HasPrefix(resp.Headers["Content-Type"], "text/html") || resp.Headers["Referrer-Policy"] != "no-referrer" {
				t.Errorf("reset page headers = %v, want HTML with Referrer-Policy no-referrer", resp.Headers)
			}
		}},
		{"api-bulk", true, http.StatusAccepted, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			if body := jsonBody(t, resp); body["taskId"] == "" {
				t.Errorf("body = %v, want a task id", body)
			}
		}},
		{"api-tasks", true, http.StatusOK, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			if _, ok := jsonBody(t, resp)["items"].([]any); !ok {
				t.Errorf("body = %s, want items", resp.Body)
			}
		}},
		// A dry run of a one-row users CSV: one create, nothing written.
		{"api-imports", true, http.StatusOK, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			body := jsonBody(t, resp)
			if body["create"] != float64(1) || len(body["errors"].([]any)) != 0 {
				t.Errorf("dry run = %v, want one create and no errors", body)
			}
		}},
		// Forgot password answers 202 with the one generic message.
		{"api-resets", false, http.StatusAccepted, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			body := jsonBody(t, resp)
			if body["message"] == "" {
				t.Errorf("body = %v, want the generic message", body)
			}
		}},
	} {
		t.Run(fmt.Sprintf("%s/signed-in=%v", test.function, test.signedIn), func(t *testing.T) {
			var ev events.APIGatewayV2HTTPRequest
			readEvent(t, test.function, &ev)
			if test.signedIn {
				ev.Headers["authorization"] = "Bearer " + token
			}
			a.actions.take()
			resp, err := httplambda.New(a.API.Handler(test.function)).Invoke(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			wantGranted(t, test.function, a.actions.take())
			if resp.StatusCode != test.status {
				t.Fatalf("%s (signed in: %v) status = %d, want %d; body %s", test.function, test.signedIn, resp.StatusCode, test.status, resp.Body)
			}
			if resp.Headers["X-Request-Id"] != ev.RequestContext.RequestID {
				t.Errorf("X-Request-Id = %q, want API Gateway's %q", resp.Headers["X-Request-Id"], ev.RequestContext.RequestID)
			}
			test.check(t, resp)
		})
	}
}

func jsonBody(t *testing.T, resp events.APIGatewayV2HTTPResponse) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, resp.Body)
	}
	return body
}

func TestSampleEventDrivesMailWorker(t *testing.T) {
	a := sampleApp(t)
	var ev events.SQSEvent
	readEvent(t, "mail-worker", &ev)
	resp, err := a.MailWorker.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	wantGranted(t, "mail-worker", a.actions.take())
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("mail worker failed %v, want no failures", resp.BatchItemFailures)
	}
}

// startSchoolTask starts an email-link task for demo-school-1's students
// as the district admin, who is returned with it.
func (a *sample) startSchoolTask(t *testing.T) (rekey.User, rekey.Task) {
	t.Helper()
	ctx := context.Background()
	admin, err := a.Store.GetUserByUsername(ctx, seed.DistrictAdminUsername)
	if err != nil {
		t.Fatal(err)
	}
	task, err := a.Bulk.Start(ctx, admin, rekey.Selection{Mode: rekey.SelectWithoutRole, SchoolID: "demo-school-1"},
		rekey.Delivery{Mode: rekey.DeliverEmailLink}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return admin, task
}

// The bulk pipeline's sample events carry made-up task and user ids; the
// test starts a real task and drives each function with the sample's
// envelope around the real message, as the event source would deliver it.
func TestSampleEventsDriveBulkPipeline(t *testing.T) {
	ctx := context.Background()
	a := sampleApp(t)
	admin, task := a.startSchoolTask(t)
	for _, step := range []struct {
		function, queue string
		handle          func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	}{
		{"bulk-planner", "BulkPlanQueue", a.BulkPlanner.Handle},
		{"bulk-worker", "BulkWorkQueue", a.BulkWorker.Handle},
	} {
		var ev events.SQSEvent
		readEvent(t, step.function, &ev)
		ev.Records[0].Body = a.receive(t, step.queue)
		a.actions.take()
		resp, err := step.handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s = %v, %v; want no failures", step.function, resp, err)
		}
		wantGranted(t, step.function, a.actions.take())
	}
	got, err := a.Bulk.Get(ctx, admin, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 3 || got.Processed != 3 || !got.Status.Finished() {
		t.Errorf("task after planner and worker = %+v, want 3 of 3 done", got)
	}
}

// The dead-letter consumer's sample carries a made-up chunk; the test
// starts a real task, plans it and delivers its work message, as if it had
// failed its five receives, in the sample's envelope: the chunk is given
// up, so the task finishes with its users failed.
func TestSampleEventDrivesBulkDeadLetters(t *testing.T) {
	ctx := context.Background()
	a := sampleApp(t)
	admin, task := a.startSchoolTask(t)
	var plan events.SQSEvent
	readEvent(t, "bulk-planner", &plan)
	plan.Records[0].Body = a.receive(t, "BulkPlanQueue")
	if resp, err := a.BulkPlanner.Handle(ctx, plan); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("bulk-planner = %v, %v; want no failures", resp, err)
	}
	var ev events.SQSEvent
	readEvent(t, "bulk-dead-letters", &ev)
	ev.Records[0].Body = a.receive(t, "BulkWorkQueue")
	a.actions.take()
	if resp, err := a.BulkDeadLetters.Handle(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("bulk-dead-letters = %v, %v; want no failures", resp, err)
	}
	wantGranted(t, "bulk-dead-letters", a.actions.take())
	got, err := a.Bulk.Get(ctx, admin, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 3 || got.Processed != 3 || got.Failed != 3 || got.Status != rekey.TaskCompletedWithErrors {
		t.Errorf("task after the dead-letter consumer = %+v, want 3 of 3 failed, completed_with_errors", got)
	}
}

// The import worker's sample names a made-up task; the test starts a real
// import and delivers its chunk in the sample's envelope.
func TestSampleEventDrivesImportWorker(t *testing.T) {
	ctx := context.Background()
	a := sampleApp(t)
	admin, err := a.Store.GetUserByUsername(ctx, seed.DistrictAdminUsername)
	if err != nil {
		t.Fatal(err)
	}
	csv := "username,firstName,lastName,role,school\nnew.pupil,New,Pupil,student,demo-school-1\n"
	task, err := a.Imports.Start(ctx, admin, imports.Source{Body: []byte(csv), ContentType: imports.TypeCSV}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	readEvent(t, "import-worker", &ev)
	ev.Records[0].Body = a.receive(t, "ImportQueue")
	a.actions.take()
	resp, err := a.ImportWorker.HandleSQS(ctx, ev)
	wantGranted(t, "import-worker", a.actions.take())
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("import-worker = %v, %v; want no failures", resp, err)
	}
	got, err := a.Imports.Get(ctx, admin, task.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Task.Processed != 1 || got.Task.Succeeded != 1 || len(got.Results) != 1 || got.Results[0].Outcome != rekey.ImportCreated {
		t.Errorf("import after the worker = %+v, want one row created", got)
	}
	if _, err := a.Store.GetUserByUsername(ctx, "new.pupil"); err != nil {
		t.Errorf("the imported user: %v", err)
	}
}

func TestSampleEventDrivesScheduleDispatcher(t *testing.T) {
	a := sampleApp(t)
	var ev events.CloudWatchEvent
	readEvent(t, "schedule-dispatcher", &ev)
	if err := a.Dispatcher.Handle(context.Background(), ev); err != nil {
		t.Errorf("dispatcher = %v, want nil", err)
	}
	wantGranted(t, "schedule-dispatcher", a.actions.take())
}

func TestSampleEventDrivesBulkSweeper(t *testing.T) {
	a := sampleApp(t)
	var ev events.CloudWatchEvent
	readEvent(t, "bulk-sweeper", &ev)
	if err := a.BulkSweeper.Handle(context.Background(), ev); err != nil {
		t.Errorf("sweeper = %v, want nil", err)
	}
	wantGranted(t, "bulk-sweeper", a.actions.take())
}

// The sample is a bounce of a message no task of the sample app sent: the
// handler parses it and drops it as unknown (or, while the store does not
// record mail events yet, refuses it so that Lambda retries and the DLQ
// keeps it).
func TestSampleEventDrivesMailEvents(t *testing.T) {
	a := sampleApp(t)
	var ev events.CloudWatchEvent
	readEvent(t, "mail-events", &ev)
	me, err := mailevents.Parse(ev)
	if err != nil || me.Type != rekey.MailBounced || me.MessageID == "" || me.At.IsZero() {
		t.Fatalf("Parse(sample) = %+v, %v; want a bounce with a message id and a time", me, err)
	}
	a.actions.take()
	if err := a.MailEvents.Handle(context.Background(), ev); err != nil && !errors.Is(err, app.ErrNoMailEventStore) {
		t.Errorf("mail events = %v, want nil (an unknown message is dropped)", err)
	}
	wantGranted(t, "mail-events", a.actions.take())
}

// TestTemplateWiresSESEvents: every function sends with the configuration
// set (and may: its SES policy names it), whose events reach mail-events
// through an EventBridge rule, with a DLQ behind the function.
func TestTemplateWiresSESEvents(t *testing.T) {
	raw, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Globals struct {
			Function struct {
				Environment struct {
					Variables map[string]yaml.Node `yaml:"Variables"`
				} `yaml:"Environment"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]yaml.Node `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if v := doc.Globals.Function.Environment.Variables["REKEY_SES_CONFIGURATION_SET"]; v.Tag != "!Ref" || v.Value != "MailConfigurationSet" {
		t.Errorf("Globals REKEY_SES_CONFIGURATION_SET = %s %q, want !Ref MailConfigurationSet", v.Tag, v.Value)
	}
	text := func(id string) string {
		n := doc.Resources[id]
		out, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	for id, want := range map[string][]string{
		"MailConfigurationSet": {"AWS::SES::ConfigurationSet"},
		"MailEventDestination": {"AWS::SES::ConfigurationSetEventDestination", "DELIVERY", "BOUNCE", "COMPLAINT", "event-bus/default"},
		"MailEventsFunction": {"functions/mail-events", "EventBridgeRule", "aws.ses", "Email Delivered", "Email Bounced", "Email Complaint Received",
			"DeadLetterQueue", "MailEventsDLQ"},
		"MailEventsDLQAlarm": {"MailEventsDLQ"},
	} {
		got := text(id)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("template %s lacks %q:\n%s", id, w, got)
			}
		}
	}
	for _, action := range []string{"ses:SendEmail", "kms:", "sqs:", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"} {
		if got := text("MailEventsFunction"); strings.Contains(got, action) {
			t.Errorf("MailEventsFunction may %s; it only records events on existing results", action)
		}
	}
	for id := range doc.Resources {
		got := text(id)
		if strings.Contains(got, "ses:SendEmail") && !strings.Contains(got, "configuration-set/${MailConfigurationSet}") {
			t.Errorf("%s may send email but not with the configuration set", id)
		}
	}
}
