package functions_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"go.yaml.in/yaml/v3"
)

// dynamoActions records the IAM actions of the DynamoDB calls that clients
// built from an aws.Config make. IAM authorises each item of a
// TransactWriteItems by its own action (a Put needs dynamodb:PutItem, a
// ConditionCheck dynamodb:ConditionCheckItem), so those are recorded too:
// moto enforces no policy, so this is how a test finds a function whose
// template policy lacks what its code calls.
type dynamoActions struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (d *dynamoActions) attach(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("rekeyDynamoActions",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetServiceID(ctx) == "DynamoDB" {
					d.add("dynamodb:" + awsmiddleware.GetOperationName(ctx))
					if tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
						for _, item := range tx.TransactItems {
							switch {
							case item.Put != nil:
								d.add("dynamodb:PutItem")
							case item.Update != nil:
								d.add("dynamodb:UpdateItem")
							case item.Delete != nil:
								d.add("dynamodb:DeleteItem")
							case item.ConditionCheck != nil:
								d.add("dynamodb:ConditionCheckItem")
							}
						}
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	return cfg
}

func (d *dynamoActions) add(action string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string]bool{}
	}
	d.seen[action] = true
}

// take returns the actions recorded since the last take, sorted, and
// forgets them.
func (d *dynamoActions) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for a := range d.seen {
		out = append(out, a)
	}
	d.seen = nil
	sort.Strings(out)
	return out
}

// policyActions is, for each template function whose code is
// functions/<function> (two functions may share one folder), every action
// its policies grant.
func policyActions(t *testing.T, function string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for name, r := range readTemplateResources(t) {
		if r.Properties.CodeUri != "functions/"+function {
			continue
		}
		granted := map[string]bool{}
		for _, p := range r.Properties.Policies {
			for _, s := range p.Statement {
				switch s.Action.Kind {
				case yaml.ScalarNode:
					granted[s.Action.Value] = true
				case yaml.SequenceNode:
					for _, a := range s.Action.Content {
						granted[a.Value] = true
					}
				}
			}
		}
		out[name] = granted
	}
	if len(out) == 0 {
		t.Fatalf("template.yaml has no function with CodeUri functions/%s", function)
	}
	return out
}

// wantGranted fails the test when a template function running the code of
// functions/<function> lacks in its policy an action that code was seen
// calling.
func wantGranted(t *testing.T, function string, called []string) {
	t.Helper()
	for resource, granted := range policyActions(t, function) {
		var missing []string
		for _, a := range called {
			if !granted[a] {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s (functions/%s) called %s, which its policy in template.yaml does not grant (it calls %s)",
				resource, function, strings.Join(missing, ", "), strings.Join(called, ", "))
		}
	}
}

func TestPolicyActions(t *testing.T) {
	got := policyActions(t, "bulk-worker")
	if len(got) != 2 || got["BulkWorkerFunction"] == nil || got["BulkPasswordWorkerFunction"] == nil {
		t.Fatalf("policyActions(bulk-worker) is for %d functions, want BulkWorkerFunction and BulkPasswordWorkerFunction", len(got))
	}
	worker := got["BulkWorkerFunction"]
	for _, a := range []string{"dynamodb:TransactWriteItems", "kms:Decrypt"} {
		if !worker[a] {
			t.Errorf("BulkWorkerFunction's policy = %v, want %s among them", worker, a)
		}
	}
	if worker["dynamodb:Scan"] {
		t.Errorf("BulkWorkerFunction's policy grants dynamodb:Scan, which it does not list")
	}
}
