package functions_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rekey/rekey/infra/iamcheck"
)

// dynamoActions records the DynamoDB calls that clients built from an
// aws.Config make (see iamcheck.Recorder): moto enforces no policy, so this
// is how a test finds a function whose template policy lacks what its code
// calls. Every call counts, whoever makes it: a test takes (and drops) the
// set-up's calls before driving a function. The end-to-end tests in
// infra/devstack check every service, per function, over many more paths.
type dynamoActions struct{ rec *iamcheck.Recorder }

// sampleCalls is the one name every call here is recorded under.
const sampleCalls = "sample"

func newDynamoActions() *dynamoActions {
	return &dynamoActions{rec: iamcheck.NewRecorder(func(context.Context) string { return sampleCalls })}
}

// take returns the DynamoDB calls recorded since the last take, sorted, and
// forgets every call. The test's own SQS receives are recorded too, which
// is why only DynamoDB's are kept.
func (d *dynamoActions) take() []iamcheck.Call {
	return slices.DeleteFunc(d.rec.Take(sampleCalls), func(c iamcheck.Call) bool {
		return !strings.HasPrefix(c.Action, "dynamodb:")
	})
}

func readPolicies(t *testing.T) map[string]iamcheck.Function {
	t.Helper()
	fns, err := iamcheck.ReadTemplate("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

// wantGranted fails the test when a template function running the code of
// functions/<function> lacks in its policy an action that code was seen
// calling.
func wantGranted(t *testing.T, function string, called []iamcheck.Call) {
	t.Helper()
	fns := readPolicies(t)
	if len(iamcheck.Resolve(fns, function)) == 0 {
		t.Fatalf("template.yaml has no function with CodeUri functions/%s", function)
	}
	for _, msg := range iamcheck.Missing(fns, function, called) {
		t.Error(msg)
	}
}

func TestPolicyActions(t *testing.T) {
	got := iamcheck.Resolve(readPolicies(t), "bulk-worker")
	if len(got) != 2 || got[0].LogicalID != "BulkPasswordWorkerFunction" || got[1].LogicalID != "BulkWorkerFunction" {
		t.Fatalf("Resolve(bulk-worker) = %v, want BulkPasswordWorkerFunction and BulkWorkerFunction", got)
	}
	worker := got[1]
	for _, c := range []iamcheck.Call{
		{Action: "dynamodb:TransactWriteItems"}, {Action: "kms:Decrypt"},
		{Action: "dynamodb:GetItem", Resource: "Table"},
		{Action: "sqs:SendMessage", Resource: "BulkWorkQueue"}, // SQSSendMessagePolicy
	} {
		if !worker.Allows(c) {
			t.Errorf("BulkWorkerFunction's policy = %+v, want it to allow %s", worker.Grants, c)
		}
	}
	for _, c := range []iamcheck.Call{
		{Action: "dynamodb:Scan"},
		{Action: "dynamodb:GetItem", Resource: "Table/index/GSI1"}, // its statement names the table only
		{Action: "sqs:SendMessage", Resource: "BulkPlanQueue"},
	} {
		if worker.Allows(c) {
			t.Errorf("BulkWorkerFunction's policy allows %s, which it does not grant", c)
		}
	}
}
