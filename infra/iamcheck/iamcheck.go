// Package iamcheck holds Rekey's functions to the IAM policies template.yaml
// gives them. moto enforces no policy, so a function whose policy lacks an
// action its code calls passes every local test and fails on AWS: tests
// attach a Recorder to the SDK configuration, drive the functions, and
// check each function's recorded calls against its policy statements.
package iamcheck

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	"go.yaml.in/yaml/v3"
)

// Call is one IAM action a function was seen making, on the template
// resource it named: "Table", "Table/index/GSI1", "MailQueue",
// "ImportBucket/uploads/…", "TaskKey"; "" when the recorder could not tell
// (then only the action is checked).
type Call struct {
	Action   string
	Resource string
}

func (c Call) String() string {
	if c.Resource == "" {
		return c.Action
	}
	return c.Action + " on " + c.Resource
}

// Function is one AWS::Serverless::Function of the template and what its
// policies allow.
type Function struct {
	LogicalID string
	CodeURI   string // e.g. functions/bulk-worker
	Grants    []Statement
	// Queues are the logical ids of the queues its SQS events consume.
	Queues []string
}

// Statement is one Allow statement: actions and resources as written, with
// intrinsic functions reduced to logical ids ("!GetAtt Table.Arn" is
// "Table", "${Table.Arn}/index/*" is "Table/index/*"). Both may hold
// wildcards.
type Statement struct {
	Actions   []string
	Resources []string
}

// Allows says whether the function's policies grant call: an action
// pattern matching its action and, when the call names a resource, a
// resource pattern matching it.
func (f Function) Allows(c Call) bool {
	for _, s := range f.Grants {
		if !slices.ContainsFunc(s.Actions, func(a string) bool { return match(a, c.Action) }) {
			continue
		}
		if c.Resource == "" || slices.ContainsFunc(s.Resources, func(r string) bool { return r == "*" || match(r, c.Resource) }) {
			return true
		}
	}
	return false
}

// match is IAM's wildcard match: * any run of characters, ? one.
// path.Match's * stops at "/", which IAM's does not, so "/" is swapped
// out first.
func match(pattern, s string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

// samTemplates are the SAM policy templates the template uses, as the
// actions they grant (SAM's policy_templates.json).
var samTemplates = map[string][]string{
	"SQSSendMessagePolicy": {"sqs:SendMessage*"},
}

// ReadTemplate reads every function of the SAM template at file, by
// logical id.
func ReadTemplate(file string) (map[string]Function, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("iamcheck: %w", err)
	}
	var doc struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				CodeUri  string                 `yaml:"CodeUri"`
				Policies []map[string]yaml.Node `yaml:"Policies"`
				Events   map[string]struct {
					Type       string `yaml:"Type"`
					Properties struct {
						Queue yaml.Node `yaml:"Queue"`
					} `yaml:"Properties"`
				} `yaml:"Events"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("iamcheck: parse %s: %w", file, err)
	}
	out := map[string]Function{}
	for id, r := range doc.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		f := Function{LogicalID: id, CodeURI: r.Properties.CodeUri}
		for _, ev := range r.Properties.Events {
			if ev.Type == "SQS" {
				f.Queues = append(f.Queues, resources(&ev.Properties.Queue)...)
			}
		}
		sort.Strings(f.Queues)
		for _, p := range r.Properties.Policies {
			for kind, node := range p {
				if kind == "Statement" {
					var stmts []struct {
						Effect   string    `yaml:"Effect"`
						Action   yaml.Node `yaml:"Action"`
						Resource yaml.Node `yaml:"Resource"`
					}
					if err := node.Decode(&stmts); err != nil {
						return nil, fmt.Errorf("iamcheck: %s: policy statements: %w", id, err)
					}
					for _, s := range stmts {
						if s.Effect != "Allow" {
							continue
						}
						f.Grants = append(f.Grants, Statement{Actions: scalars(&s.Action), Resources: resources(&s.Resource)})
					}
					continue
				}
				actions, ok := samTemplates[kind]
				if !ok {
					return nil, fmt.Errorf("iamcheck: %s: policy template %s is unknown here; add what it grants to samTemplates", id, kind)
				}
				var params map[string]yaml.Node
				if err := node.Decode(&params); err != nil {
					return nil, fmt.Errorf("iamcheck: %s: %s: %w", id, kind, err)
				}
				var res []string
				for _, v := range params {
					res = append(res, resources(&v)...)
				}
				f.Grants = append(f.Grants, Statement{Actions: actions, Resources: res})
			}
		}
		out[id] = f
	}
	return out, nil
}

// scalars is a scalar or a sequence of scalars, as strings.
func scalars(n *yaml.Node) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			out = append(out, scalars(c)...)
		}
		return out
	}
	return nil
}

// resources reduces a Resource (or a policy template's parameter) to
// logical ids: !GetAtt X.Arn (or X.QueueName) is X, !Ref X is X, and
// !Sub "${X.Arn}/rest" is X/rest. Anything else (a !Sub list, an ARN
// built from parameters) is kept as its text, which no recorded resource
// matches.
func resources(n *yaml.Node) []string {
	if n.Kind == yaml.SequenceNode && n.Tag != "!Sub" {
		var out []string
		for _, c := range n.Content {
			out = append(out, resources(c)...)
		}
		return out
	}
	if n.Kind != yaml.ScalarNode {
		return []string{fmt.Sprintf("<%s at line %d>", n.Tag, n.Line)}
	}
	switch n.Tag {
	case "!GetAtt", "!Ref":
		id, _, _ := strings.Cut(n.Value, ".")
		return []string{id}
	case "!Sub":
		if rest, ok := strings.CutPrefix(n.Value, "${"); ok {
			if ref, tail, ok := strings.Cut(rest, "}"); ok {
				id, attr, _ := strings.Cut(ref, ".")
				if attr == "Arn" {
					return []string{id + tail}
				}
			}
		}
	}
	return []string{n.Value}
}

// Recorder records the IAM actions of the AWS calls that clients built from
// the configurations it is attached to make, by the function each call was
// made for (read from the call's context by name; calls whose context names
// none are not recorded). IAM authorises each item of a TransactWriteItems
// by its own action (a Put needs dynamodb:PutItem, a ConditionCheck
// dynamodb:ConditionCheckItem), so those are recorded too.
type Recorder struct {
	name func(context.Context) string

	mu    sync.Mutex
	names map[string]string        // physical name -> logical id
	seen  map[string]map[Call]bool // function -> calls
}

// NewRecorder returns a recorder attributing each call to name(ctx).
func NewRecorder(name func(context.Context) string) *Recorder {
	return &Recorder{name: name, names: map[string]string{}}
}

// Name tells the recorder that the resource physical (a table or bucket
// name, a queue URL, a KMS key id) is the template's logical id, so that
// calls on it are checked against the statements' resources too.
func (r *Recorder) Name(physical, logicalID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names[physical] = logicalID
}

// Attach returns cfg with the recorder in every client's middleware.
func (r *Recorder) Attach(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("rekeyIAMActions",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if fn := r.name(ctx); fn != "" {
					r.record(fn, awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), in.Parameters)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	return cfg
}

// servicePrefixes are the IAM prefixes of the SDK's service ids.
var servicePrefixes = map[string]string{"DynamoDB": "dynamodb", "SQS": "sqs", "S3": "s3", "KMS": "kms", "SESv2": "ses"}

// operationActions are the operations whose IAM action is not their name.
var operationActions = map[string]string{
	"s3:HeadObject":                    "s3:GetObject",
	"s3:ListObjectsV2":                 "s3:ListBucket",
	"sqs:SendMessageBatch":             "sqs:SendMessage",
	"sqs:DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

func (r *Recorder) record(fn, service, op string, params any) {
	prefix, ok := servicePrefixes[service]
	if !ok {
		prefix = strings.ToLower(service)
	}
	action := prefix + ":" + op
	if a, ok := operationActions[action]; ok {
		action = a
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	add := func(action, physical, suffix string) {
		res := ""
		if id, ok := r.names[physical]; ok {
			res = id + suffix
		}
		if r.seen == nil {
			r.seen = map[string]map[Call]bool{}
		}
		if r.seen[fn] == nil {
			r.seen[fn] = map[Call]bool{}
		}
		r.seen[fn][Call{action, res}] = true
	}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		add(action, aws.ToString(in.TableName), "")
	case *dynamodb.PutItemInput:
		add(action, aws.ToString(in.TableName), "")
	case *dynamodb.UpdateItemInput:
		add(action, aws.ToString(in.TableName), "")
	case *dynamodb.DeleteItemInput:
		add(action, aws.ToString(in.TableName), "")
	case *dynamodb.QueryInput:
		add(action, aws.ToString(in.TableName), indexSuffix(in.IndexName))
	case *dynamodb.ScanInput:
		add(action, aws.ToString(in.TableName), indexSuffix(in.IndexName))
	case *dynamodb.BatchGetItemInput:
		for table := range in.RequestItems {
			add(action, table, "")
		}
	case *dynamodb.BatchWriteItemInput:
		for table := range in.RequestItems {
			add(action, table, "")
		}
	case *dynamodb.TransactGetItemsInput:
		add(action, "", "")
		for _, item := range in.TransactItems {
			if item.Get != nil {
				add("dynamodb:GetItem", aws.ToString(item.Get.TableName), "")
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		add(action, "", "")
		for _, item := range in.TransactItems {
			switch {
			case item.Put != nil:
				add("dynamodb:PutItem", aws.ToString(item.Put.TableName), "")
			case item.Update != nil:
				add("dynamodb:UpdateItem", aws.ToString(item.Update.TableName), "")
			case item.Delete != nil:
				add("dynamodb:DeleteItem", aws.ToString(item.Delete.TableName), "")
			case item.ConditionCheck != nil:
				add("dynamodb:ConditionCheckItem", aws.ToString(item.ConditionCheck.TableName), "")
			}
		}
	case *sqs.SendMessageInput:
		add(action, aws.ToString(in.QueueUrl), "")
	case *sqs.SendMessageBatchInput:
		add(action, aws.ToString(in.QueueUrl), "")
	case *s3.PutObjectInput:
		add(action, aws.ToString(in.Bucket), "/"+aws.ToString(in.Key))
	case *s3.GetObjectInput:
		add(action, aws.ToString(in.Bucket), "/"+aws.ToString(in.Key))
	case *s3.HeadObjectInput:
		add(action, aws.ToString(in.Bucket), "/"+aws.ToString(in.Key))
	case *s3.DeleteObjectInput:
		add(action, aws.ToString(in.Bucket), "/"+aws.ToString(in.Key))
	case *kms.GenerateDataKeyInput:
		add(action, aws.ToString(in.KeyId), "")
	case *kms.DecryptInput:
		add(action, aws.ToString(in.KeyId), "")
	default:
		add(action, "", "")
	}
}

func indexSuffix(index *string) string {
	if index == nil {
		return ""
	}
	return "/index/" + *index
}

// Take returns the calls recorded for the function named fn since the
// last Take of it, sorted, and forgets them.
func (r *Recorder) Take(fn string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for c := range r.seen[fn] {
		out = append(out, c)
	}
	delete(r.seen, fn)
	sortCalls(out)
	return out
}

// Functions returns the names calls were recorded for, sorted.
func (r *Recorder) Functions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for fn := range r.seen {
		out = append(out, fn)
	}
	sort.Strings(out)
	return out
}

func sortCalls(calls []Call) {
	sort.Slice(calls, func(i, j int) bool {
		if calls[i].Action != calls[j].Action {
			return calls[i].Action < calls[j].Action
		}
		return calls[i].Resource < calls[j].Resource
	})
}

// Resolve returns the template functions a recorded name stands for: the
// function with that logical id, else every function whose code is
// functions/<name> (two functions may share one folder, and then each must
// allow what the code calls).
func Resolve(functions map[string]Function, name string) []Function {
	if f, ok := functions[name]; ok {
		return []Function{f}
	}
	var out []Function
	for _, f := range functions {
		if f.CodeURI == "functions/"+name {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

// Missing returns one message per template function standing for name (see
// Resolve) whose policies lack some of calls, naming the function and the
// calls; one message too when name stands for no function.
func Missing(functions map[string]Function, name string, calls []Call) []string {
	fns := Resolve(functions, name)
	if len(fns) == 0 {
		return []string{fmt.Sprintf("calls were recorded for %q, which is no function of template.yaml (neither a logical id nor a functions/ folder)", name)}
	}
	var out []string
	for _, f := range fns {
		var missing []string
		for _, c := range calls {
			if !f.Allows(c) {
				missing = append(missing, c.String())
			}
		}
		if len(missing) > 0 {
			var all []string
			for _, c := range calls {
				all = append(all, c.String())
			}
			out = append(out, fmt.Sprintf("%s (%s) called %s, which its policy in template.yaml does not grant (it calls %s)",
				f.LogicalID, f.CodeURI, strings.Join(missing, ", "), strings.Join(all, ", ")))
		}
	}
	return out
}
