package stack_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/infra/stack"
)

// TestCreatePasswordQueue: the password deliveries' work queue is created
// on moto from template.yaml with its timeout and its own dead-letter
// queue, apart from the email path's work queue.
func TestCreatePasswordQueue(t *testing.T) {
	ctx := context.Background()
	client := sqs.NewFromConfig(mototest.Config(t))
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	queues, err := stack.CreateQueues(ctx, client, path, map[string]string{
		"BulkWorkQueue": "stack-work", "BulkWorkDLQ": "stack-work-dlq",
		"BulkPasswordQueue": "stack-password", "BulkPasswordDLQ": "stack-password-dlq",
	})
	if err != nil {
		t.Fatalf("CreateQueues() error: %v", err)
	}
	got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queues["BulkPasswordQueue"].URL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Attributes["VisibilityTimeout"]; v != "360" {
		t.Errorf("password queue VisibilityTimeout = %s, want 360 (6 x the worker's 60 s)", v)
	}
	var redrive struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		MaxReceiveCount     any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(got.Attributes["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", got.Attributes["RedrivePolicy"], err)
	}
	if redrive.DeadLetterTargetArn != queues["BulkPasswordDLQ"].ARN || redrive.DeadLetterTargetArn == queues["BulkWorkDLQ"].ARN {
		t.Errorf("password queue's DLQ = %s, want its own %s", redrive.DeadLetterTargetArn, queues["BulkPasswordDLQ"].ARN)
	}
	if queues["BulkPasswordQueue"].URL == queues["BulkWorkQueue"].URL {
		t.Error("the password and email work queues are the same queue")
	}
}
