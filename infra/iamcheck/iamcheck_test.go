package iamcheck

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

type nameKey struct{}

// offline fails every request: the recorder sees a call before it is sent.
type offline struct{}

func (offline) Do(*http.Request) (*http.Response, error) { return nil, errors.New("offline") }

func TestRecorderAttributesCallsByContext(t *testing.T) {
	r := NewRecorder(func(ctx context.Context) string { s, _ := ctx.Value(nameKey{}).(string); return s })
	r.Name("tbl", "Table")
	r.Name("https://sqs.local/q", "MailQueue")
	cfg := r.Attach(aws.Config{Region: "us-east-1", HTTPClient: offline{}, RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, nil
		})})
	db, q := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "k"}}
	fn := context.WithValue(context.Background(), nameKey{}, "fn")
	db.TransactWriteItems(fn, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String("tbl"), Item: key}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("tbl"), Key: key, ConditionExpression: aws.String("attribute_exists(PK)")}},
	}})
	db.Query(fn, &dynamodb.QueryInput{TableName: aws.String("tbl"), IndexName: aws.String("GSI2")})
	q.SendMessageBatch(fn, &sqs.SendMessageBatchInput{QueueUrl: aws.String("https://sqs.local/q"),
		Entries: []sqstypes.SendMessageBatchRequestEntry{{Id: aws.String("1"), MessageBody: aws.String("{}")}}})
	db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String("tbl"), Key: key}) // no function: set-up
	want := []Call{
		{"dynamodb:ConditionCheckItem", "Table"}, {"dynamodb:PutItem", "Table"}, {"dynamodb:Query", "Table/index/GSI2"},
		{"dynamodb:TransactWriteItems", ""}, {"sqs:SendMessage", "MailQueue"},
	}
	if got := r.Take("fn"); !slices.Equal(got, want) {
		t.Errorf("recorded %v, want %v", got, want)
	}
	if got := r.Functions(); len(got) != 0 {
		t.Errorf("after Take, calls remain for %v (calls outside a function must not be recorded)", got)
	}
}

const template = `
Resources:
  Table: { Type: AWS::DynamoDB::Table }
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:Query]
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !Sub "${Table.Arn}/index/GSI1"
            - Effect: Deny
              Action: dynamodb:Scan
              Resource: "*"
        - SQSSendMessagePolicy:
            QueueName: !GetAtt MailQueue.QueueName
      Events:
        Work: { Type: SQS, Properties: { Queue: !GetAtt WorkQueue.Arn } }
`

func TestPoliciesAllow(t *testing.T) {
	file := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(file, []byte(template), 0o600); err != nil {
		t.Fatal(err)
	}
	fns, err := ReadTemplate(file)
	if err != nil {
		t.Fatal(err)
	}
	w := fns["Worker"]
	if len(fns) != 1 || !slices.Equal(w.Queues, []string{"WorkQueue"}) {
		t.Fatalf("ReadTemplate = %+v, want Worker consuming WorkQueue", fns)
	}
	for _, test := range []struct {
		call Call
		want bool
	}{
		{Call{"dynamodb:GetItem", "Table"}, true},
		{Call{"dynamodb:GetItem", ""}, true},
		{Call{"dynamodb:Query", "Table/index/GSI1"}, true},
		{Call{"dynamodb:GetItem", "Table/index/GSI1"}, false},
		{Call{"dynamodb:Query", "Table/index/GSI2"}, false},
		{Call{"dynamodb:PutItem", "Table"}, false},
		{Call{"dynamodb:Scan", ""}, false}, // a Deny grants nothing
		{Call{"sqs:SendMessage", "MailQueue"}, true},
		{Call{"sqs:SendMessage", "WorkQueue"}, false},
	} {
		if got := w.Allows(test.call); got != test.want {
			t.Errorf("Allows(%s) = %v, want %v", test.call, got, test.want)
		}
	}
	if got := Missing(fns, "worker", []Call{{"dynamodb:GetItem", "Table"}, {"dynamodb:PutItem", "Table"}}); len(got) != 1 {
		t.Errorf("Missing(worker, GetItem and PutItem) = %q, want one message naming Worker and PutItem", got)
	}
	if got := Missing(fns, "nobody", nil); len(got) != 1 {
		t.Errorf("Missing(nobody) = %q, want a message that no function has that name", got)
	}
}
